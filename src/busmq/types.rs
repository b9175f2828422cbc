//! The vocabulary shared by the queue state machine and the event loop: commands from
//! JavaScript, Redis operations to run, their outcomes, and events for JavaScript.

use super::keys::QueueKeys;
use bytes::Bytes;

/// A queue object of the JS facade (assigned there, unique per bus).
pub type Qid = u32;
/// A callback waiting in JS for a reply (`0` = nobody waits).
pub type Rid = u32;

/// `attach()` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachOptions {
  /// Seconds the queue lives after the last touch (busmq default 30).
  pub ttl: u32,
  /// Largest number of messages the queue accepts from us (`0` = unbounded).
  pub maxsize: u64,
  /// Announce the queue on `bus:pubsub:bus:notifications`.
  pub discoverable: bool,
}

/// What the facade asks of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
  /// A queue object was created (or is used again) under `name`.
  Open { qid: Qid, name: String },
  /// The queue object was garbage-collected in JS.
  Forget { qid: Qid },
  /// `attach(options)`.
  Attach { qid: Qid, opts: AttachOptions },
  /// `detach()`.
  Detach { qid: Qid },
  /// `push(payload, cb)`.
  Push { qid: Qid, rid: Rid, payload: Bytes },
  /// `consume({ remove, max })`; `max < 0` = unlimited.
  Consume {
    qid: Qid,
    remove: bool,
    max: i64,
    /// Reliable mode with the last id already handled (`consume({ reliable: true, last })`).
    reliable: Option<u64>,
  },
  /// `stop()`.
  Stop { qid: Qid },
  /// `close()`.
  Close { qid: Qid },
  /// A read or write that does not change the queue object (`count`, `metadata`...).
  Query { qid: Qid, rid: Rid, query: Query },
  /// `pubsub.subscribe()` of object `pid` on `channel` (`bus:pubsub:<name>`).
  Subscribe { pid: Qid, channel: String },
  /// `pubsub.unsubscribe()`.
  Unsubscribe { pid: Qid, channel: String },
  /// `pubsub.publish(payload, cb)`.
  Publish {
    pid: Qid,
    rid: Rid,
    channel: String,
    payload: Bytes,
  },
  /// A call on a plain key (`bus.persistify()` objects).
  Key {
    rid: Rid,
    key: String,
    query: KeyQuery,
  },
}

/// The calls of persisted objects (`bus:persisted:<name>` hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyQuery {
  /// `HGETALL key` -> object or null.
  HGetAll,
  /// `HSET key f v...` + `EXPIRE key ttl`.
  HSet {
    pairs: Vec<(String, String)>,
    ttl: u32,
  },
  /// `EXPIRE key ttl`.
  Expire { ttl: u32 },
}

/// The stateless queue calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
  /// `EXISTS metadata` -> bool.
  Exists,
  /// `LLEN messages / 2` -> int.
  Count,
  /// `HGET metadata ttl` -> int or null.
  Ttl,
  /// `HGET metadata maxsize` -> int or null.
  Maxsize,
  /// `HGET metadata source` -> string or null.
  Find,
  /// `DEL messages`.
  Flush,
  /// `HGET metadata key` -> string or null.
  MetaGet(String),
  /// `HGETALL metadata` -> object.
  MetaAll,
  /// The ack script: drop `toack` pairs up to `id`.
  Ack { id: u64, ttl: u32 },
  /// `HSET metadata k v...` + `EXPIRE metadata ttl`.
  MetaSet {
    pairs: Vec<(String, String)>,
    ttl: u32,
  },
}

/// A Redis operation for the loop to run; its outcome comes back as a [`Done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
  /// `HGET metadata ttl` (does the queue exist, and with which ttl).
  Probe { qid: Qid, metadata: String },
  /// `HSET metadata ttl source discover maxsize` + `EXPIRE metadata ttl`, atomically.
  Create {
    qid: Qid,
    metadata: String,
    opts: AttachOptions,
  },
  /// `EXPIRE` the four data keys (+ the discovery notice).
  Touch {
    qid: Qid,
    keys: QueueKeys,
    ttl: u32,
    notice: Option<String>,
  },
  /// The push script over `items` in order.
  Push {
    qid: Qid,
    keys: QueueKeys,
    ttl: u32,
    maxsize: u64,
    items: Vec<(Rid, Bytes)>,
  },
  /// The pop script (or `LPOP key count`) for up to `count` messages.
  Pop {
    qid: Qid,
    messages: String,
    count: u32,
    /// Reliable mode: the `toack` list the popped pairs are copied to.
    toack: Option<String>,
    /// Expiry for `toack`.
    ttl: u32,
    /// The pop may wait in `BLMPOP` on a connection of its own (plain consumers); the loop
    /// decides whether it does, and answers [`Done::PoppedBlocking`] when it did.
    block: bool,
    /// Messages the consumer may still take (`-1`: no limit): bounds the pops the JS thread's
    /// lane makes for it (answered with [`Done::Leased`]).
    remaining: i64,
  },
  /// Ends the blocking pop of consumer `qid`, if one waits (`CLIENT UNBLOCK`): what it already
  /// took still comes back as its outcome.
  Unblock { qid: Qid },
  /// `LRANGE` of `count` messages from message index `from` (consume without remove).
  Peek {
    qid: Qid,
    messages: String,
    from: u64,
    count: u32,
  },
  /// `SUBSCRIBE channel` on the read connection.
  Subscribe { channel: String },
  /// `UNSUBSCRIBE channel`.
  Unsubscribe { channel: String },
  /// The ack script with restore: a reliable consumer starts over from `last`.
  Restore {
    qid: Qid,
    keys: QueueKeys,
    last: u64,
    ttl: u32,
  },
  /// `DEL` the four data keys.
  Delete { qid: Qid, keys: QueueKeys },
  /// `PUBLISH channel payload` on the first connection; the loop answers `rid` itself.
  Publish {
    pid: Qid,
    rid: Rid,
    channel: String,
    payload: Bytes,
  },
  /// A call on a plain key; the loop answers `rid` itself.
  Key {
    rid: Rid,
    key: String,
    query: KeyQuery,
  },
  /// A stateless call; the loop answers the `rid` itself.
  Query {
    rid: Rid,
    qid: Qid,
    keys: QueueKeys,
    query: Query,
  },
}

/// A Redis failure as JS will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
  /// `err.code`: the server's error code (`WRONGTYPE`, `MISCONF`...) or a POSIX-like one.
  pub code: String,
  /// The server's or the connection's message.
  pub message: String,
  /// True when the connection is gone (the loop retries after reconnecting).
  pub connection: bool,
}

/// The outcome of an [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
  /// The stored ttl, or `None` when the queue does not exist.
  Probed { qid: Qid, ttl: Option<u32> },
  /// The metadata was written.
  Created { qid: Qid },
  /// One id per pushed item, `None` when the queue was full.
  Pushed {
    qid: Qid,
    ids: Vec<(Rid, Option<u64>)>,
  },
  /// Messages popped or peeked, in order.
  Popped {
    qid: Qid,
    messages: Vec<(u64, Bytes)>,
  },
  /// Messages taken by a blocking pop (none when it timed out or was unblocked): the consumer
  /// pops again at once, as that pop waits for the next message itself.
  PoppedBlocking {
    qid: Qid,
    messages: Vec<(u64, Bytes)>,
  },
  /// The lane's blocking pops ended after delivering `delivered` messages to JS itself:
  /// `again` when the consumer pops again at once (as after a blocking pop), `failure` when
  /// Redis refused a pop.
  Leased {
    qid: Qid,
    delivered: u64,
    again: bool,
    failure: Option<Failure>,
  },
  /// The read connection is subscribed.
  Subscribed { channel: String },
  /// An operation with nothing to report (a touch, an unsubscribe).
  Ack,
  /// The keys were deleted.
  Deleted { qid: Qid },
  /// `op` failed.
  Failed { op: FailedOp, failure: Failure },
}

/// Which operation a [`Done::Failed`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedOp {
  /// Probe or create during attach.
  Attach(Qid),
  /// A touch.
  Touch(Qid),
  /// A push of these callbacks.
  Push(Qid, Vec<Rid>),
  /// A pop or peek.
  Pop(Qid),
  /// A subscribe or unsubscribe.
  Subscribe(String),
  /// The delete of close().
  Delete(Qid),
  /// The restore of unacked messages when a reliable consumer starts.
  Restore(Qid),
}

/// What JavaScript hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
  /// `attaching`.
  Attaching(Qid),
  /// `attached(existed)`, with the ttl now in force.
  Attached { qid: Qid, existed: bool, ttl: u32 },
  /// `detaching`.
  Detaching(Qid),
  /// `detached`.
  Detached(Qid),
  /// `consuming(on)`.
  Consuming { qid: Qid, on: bool },
  /// `message(payload, id)`.
  Message { qid: Qid, id: u64, payload: Bytes },
  /// `closed`.
  Closed(Qid),
  /// A push callback: `cb(null, id)` (`None` = queue full).
  PushReply { rid: Rid, id: Option<u64> },
  /// A callback gets an error.
  ReplyError {
    rid: Rid,
    code: String,
    message: String,
  },
  /// `subscribed` on a pub/sub object.
  Subscribed(Qid),
  /// `unsubscribed` on a pub/sub object.
  Unsubscribed(Qid),
  /// `message(payload)` on a pub/sub object.
  PubsubMessage { pid: Qid, payload: Bytes },
  /// `error` on the queue (or pub/sub) object.
  Error {
    qid: Qid,
    code: String,
    message: String,
  },
}

/// What the state machine asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
  /// Run a Redis operation.
  Run(Op),
  /// Tell JavaScript.
  Emit(Event),
}
