//! Public types of the broker: configuration, outputs, statistics.

use std::time::Duration;

use bytes::Bytes;

/// Worker concurrency until its first heartbeat says otherwise.
pub const DEFAULT_CONCURRENCY: i64 = 100;
/// Default of [`BrokerConf::max_queue`].
pub const DEFAULT_MAX_QUEUE: usize = 20_000;
/// Default of [`BrokerConf::max_bytes`]: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;
/// Data frame of the error reply for a request lost with its worker.
pub const ERR_WORKER_LOST: &[u8] = b"\"C_WORKER_LOST\"";
/// Data frame of the error reply for a request refused by a full queue.
pub const ERR_QUEUE_FULL: &[u8] = b"\"C_QUEUE_FULL\"";

/// How a request is given to one of several eligible workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dmode {
  /// Fewest requests in flight, then fewest served (pigato `'load'`).
  #[default]
  Load,
  /// Uniformly random among eligible workers (pigato `'rand'`).
  Rand,
}

/// Broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConf {
  /// Tick period: worker liveness and heartbeats (pigato `heartbeat`).
  pub heartbeat: Duration,
  /// Ticks a silent worker survives (pigato `heartbeatLiveness`).
  pub liveness: u32,
  /// Worker selection.
  pub dmode: Dmode,
  /// Reply cache bound in entries.
  pub cache_max_entries: usize,
  /// Reply cache bound in bytes.
  pub cache_max_bytes: usize,
  /// Most requests waiting in one service queue.
  pub max_queue: usize,
  /// Most bytes of requests (all frames) the broker holds, queued and at workers together.
  pub max_bytes: usize,
}

impl Default for BrokerConf {
  fn default() -> BrokerConf {
    BrokerConf {
      heartbeat: Duration::from_millis(2500),
      liveness: 3,
      dmode: Dmode::Load,
      cache_max_entries: 10_000,
      cache_max_bytes: 64 << 20,
      // A request behind 20,000 others waits 2-20 s at 1-10 k requests/s, a good part of the
      // default 60 s timeout: a longer queue mostly holds requests that will time out. It is
      // about 18 MB of small requests (0.9 kB each, measured), so a stalled service cannot take
      // the broker down, and its clients hold no more than that many unanswered either.
      max_queue: DEFAULT_MAX_QUEUE,
      max_bytes: DEFAULT_MAX_BYTES,
    }
  }
}

/// A request as handed to (and given back by) the persistence controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedRequest {
  /// Identity of the requesting client.
  pub client: Bytes,
  /// Requested service name.
  pub service: Bytes,
  /// Request id.
  pub rid: Bytes,
  /// Data frame (JSON).
  pub data: Bytes,
  /// Opts frame (JSON).
  pub opts: Bytes,
}

/// Something the event loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
  /// Send `frames` through the ROUTER to `peer` (identity prepended by the loop).
  Route { peer: Bytes, frames: Vec<Bytes> },
  /// Publish this one frame (`'$dir ' + JSON`) on the PUB socket.
  Directory(Bytes),
  /// Store this `persist` request (controller `rset`).
  PersistSet(PersistedRequest),
  /// Forget this persisted request (controller `rdel`).
  PersistDel { rid: Bytes },
  /// A message or request was dropped (for logs and metrics).
  Dropped { reason: &'static str },
}

/// Counters and gauges of a broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerStats {
  /// Client requests received.
  pub requests: u64,
  /// Final replies routed to clients (cache hits included).
  pub replies: u64,
  /// Partial replies routed to clients.
  pub partials: u64,
  /// Rejects received from workers.
  pub rejects: u64,
  /// Requests answered from the cache.
  pub cache_hits: u64,
  /// Requests re-queued after their worker was lost (`retry`).
  pub requeued: u64,
  /// Requests dropped because their timeout passed while queued.
  pub dropped_expired: u64,
  /// Requests let go because their timeout passed while a worker held them.
  pub abandoned: u64,
  /// Late replies for requests already let go (dropped; the worker stays).
  pub dropped_late: u64,
  /// Workers removed because their connection closed.
  pub workers_gone: u64,
  /// Requests dropped with their lost worker (no `retry`).
  pub dropped_worker_lost: u64,
  /// Requests refused because their queue was full.
  pub dropped_queue_full: u64,
  /// Requests dropped because their rid was already known.
  pub dropped_duplicate: u64,
  /// Malformed messages.
  pub dropped_malformed: u64,
  /// Messages from unknown workers and replies not matching an assignment.
  pub dropped_protocol: u64,
  /// Workers currently registered.
  pub workers: usize,
  /// Requests waiting in queues.
  pub queued: usize,
  /// Requests assigned to workers.
  pub in_flight: usize,
  /// Bytes of the requests held (queued and assigned), bounded by `max_bytes`.
  pub held_bytes: usize,
}
