//! The types a node's owner sees: commands, events, the handle of a running
//! node and the setup error.

use std::io;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::codec::NodeMeta;
use super::link::LinkError;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
  /// `spawn_node` was called outside a tokio runtime.
  #[error("spawn_node must be called inside a tokio runtime")]
  NoRuntime,
  /// A socket could not be set up (discovery or forwarder ports).
  #[error("{0}")]
  Io(#[from] io::Error),
  /// The data path failed.
  #[error(transparent)]
  Link(#[from] LinkError),
}

/// A request from the node's owner.
#[derive(Debug)]
pub enum NodeCommand {
  /// Receive messages whose channel (frame 0) equals this one; `*` means all.
  Subscribe(Bytes),
  /// Stop receiving this channel.
  Unsubscribe(Bytes),
  /// Publish one message; frame 0 is the channel.
  Publish(Vec<Bytes>),
  /// Publish several messages in order.
  PublishBatch(Vec<Vec<Bytes>>),
  /// Packed records from JavaScript (kinds in [`super::sink::command`]).
  Batch(Bytes),
  /// Stop the node; the sender is answered once its sockets are closed.
  Stop(oneshot::Sender<()>),
}

/// What the node reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
  /// The first connection to an elected forwarder is up (once per node).
  Ready,
  /// A forwarder was elected (also re-elections after a failover).
  Elected {
    /// The elected node's id.
    id: String,
    /// True when it is this node.
    is_me: bool,
  },
  /// A message on a subscribed channel; frame 0 is the channel.
  Message(Vec<Bytes>),
  /// Something failed; the node goes on unless [`NodeEvent::Stopped`] follows.
  Error(String),
  /// Publishes lost because the buffer was full while no forwarder was connected.
  Dropped {
    /// Messages lost since the last report.
    count: u64,
  },
  /// Incoming messages discarded because the owner fell behind.
  Discarded {
    /// Messages discarded since the last report.
    count: u64,
  },
  /// Discovery datagrams refused (counted, never acted on), for one reason.
  Refused {
    /// `too_large`, `malformed`, `unsigned`, `signed`, `forged`, `stale` or `replayed`.
    reason: &'static str,
    /// Datagrams refused for it since the last report.
    count: u64,
  },
  /// The node has stopped; it is the last event.
  Stopped,
}

/// The owner's side of a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
  /// Where commands go; dropping every sender stops the node.
  pub commands: mpsc::UnboundedSender<NodeCommand>,
  /// What this node advertises (id and forwarder endpoints).
  pub meta: NodeMeta,
  /// Its forwarder's counters (connections, refusals by reason).
  pub forwarder_stats: super::forwarder::StatsCell,
}
