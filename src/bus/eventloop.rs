//! The task of one zmqbus node. It owns the discovery socket, the election
//! state, the node's forwarder and the data-path link, and talks to its owner
//! (the napi binding) through a command channel and an event channel.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::SocketAddrV4;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::codec::{self, NodeMeta, MAX_DATAGRAM};
use super::discovery;
use super::election::{Action, Election};
use super::forwarder::{Forwarder, ForwarderListeners};
use super::link::{Link, LinkError, LinkEvent};
use super::options::NodeOptions;

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
  /// The node cannot go on (it has stopped).
  Error(String),
  /// Publishes lost because the buffer was full while no forwarder was connected.
  Dropped {
    /// Messages lost since the last report.
    count: u64,
  },
}

/// The owner's side of a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
  /// Where commands go; dropping every sender stops the node.
  pub commands: mpsc::UnboundedSender<NodeCommand>,
  /// What this node advertises (id and forwarder endpoints).
  pub meta: NodeMeta,
}

/// Starts a node on the current tokio runtime. Sockets are bound before this
/// returns, so setup errors come back here; later failures arrive as
/// [`NodeEvent::Error`].
///
/// # Errors
/// [`BusError::NoRuntime`] outside a runtime, [`BusError::Io`] when the
/// discovery socket or the forwarder ports cannot be set up.
///
/// # Panics
/// When the current runtime has its IO driver disabled (tokio's rule).
pub fn spawn_node(
  opts: NodeOptions,
  events: mpsc::UnboundedSender<NodeEvent>,
) -> Result<NodeHandle, BusError> {
  tokio::runtime::Handle::try_current().map_err(|_| BusError::NoRuntime)?;
  let iface = discovery::resolve_interface(opts.multicast_interface)?;
  let (udp, dest) = discovery::open(&opts, iface)?;
  let udp = UdpSocket::from_std(udp)?;
  let listeners = ForwarderListeners::bind(opts.multicast_interface, iface)?;
  let meta = NodeMeta {
    id: codec::generate_id(opts.election_priority),
    sub_addr: listeners.sub_addr.clone(),
    pub_addr: listeners.pub_addr.clone(),
  };
  let (commands, rx) = mpsc::unbounded_channel();
  let node = Node {
    election: Election::new(meta.clone(), &opts, Instant::now()),
    opts,
    udp,
    dest,
    events,
    commands: rx,
    link: None,
    connecting: None,
    subs: HashSet::new(),
    buffer: VecDeque::new(),
    dropped: 0,
    ready_sent: false,
    send_failed: false,
    bad_datagrams: 0,
  };
  tokio::spawn(node.run(listeners));
  Ok(NodeHandle { commands, meta })
}

/// A connect in progress to an elected forwarder.
type Connecting = (NodeMeta, JoinHandle<Result<Link, LinkError>>);

/// The state owned by the node's task.
struct Node {
  opts: NodeOptions,
  election: Election,
  udp: UdpSocket,
  dest: SocketAddrV4,
  events: mpsc::UnboundedSender<NodeEvent>,
  commands: mpsc::UnboundedReceiver<NodeCommand>,
  link: Option<Link>,
  connecting: Option<Connecting>,
  /// Exact channels subscribed by the owner.
  subs: HashSet<Bytes>,
  /// Publishes waiting for a ready link.
  buffer: VecDeque<Vec<Bytes>>,
  dropped: u64,
  ready_sent: bool,
  send_failed: bool,
  /// Discovery datagrams refused by the codec.
  bad_datagrams: u64,
}

/// The subscription prefix on the wire: `*` is the empty (match-all) prefix.
fn wire_prefix(channel: &[u8]) -> &[u8] {
  if channel == b"*" {
    b""
  } else {
    channel
  }
}

async fn next_link_event(link: &mut Option<Link>) -> LinkEvent {
  match link {
    Some(link) => link.next_event().await,
    None => std::future::pending().await,
  }
}

async fn join_connect(connecting: &mut Option<Connecting>) -> Result<Link, LinkError> {
  match connecting {
    Some((meta, task)) => match task.await {
      Ok(result) => result,
      Err(join) => Err(LinkError::Connect {
        addr: meta.sub_addr.clone(),
        source: zeromq::ZmqError::Other(if join.is_panic() {
          "panic"
        } else {
          "cancelled"
        }),
      }),
    },
    None => std::future::pending().await,
  }
}

impl Node {
  async fn run(mut self, listeners: ForwarderListeners) {
    let forwarder = match Forwarder::start(listeners).await {
      Ok(f) => f,
      Err(e) => {
        let _ = self
          .events
          .send(NodeEvent::Error(format!("forwarder: {e}")));
        return;
      }
    };
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let stop_ack = loop {
      let deadline = self.election.next_deadline();
      // Each branch is cancel-safe (channel, socket and stream reads, a
      // timer, a join handle), and handlers run after the others are dropped.
      let alive = tokio::select! {
        cmd = self.commands.recv() => match cmd {
          Some(NodeCommand::Stop(ack)) => break Some(ack),
          Some(cmd) => self.handle_command(cmd).await,
          None => break None,
        },
        got = self.udp.recv_from(&mut buf) => match got {
          Ok((n, _)) => self.handle_datagram(&buf[..n]).await,
          Err(_) => {
            // ICMP errors and the like: nothing to do, but never spin hot
            // on a socket that keeps failing.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            true
          }
        },
        _ = tokio::time::sleep_until(deadline) => {
          let mut out = Vec::new();
          self.election.handle_tick(Instant::now(), &mut out);
          self.handle_actions(out).await
        },
        res = join_connect(&mut self.connecting) => self.handle_connected(res).await,
        ev = next_link_event(&mut self.link) => self.handle_link_event(ev).await,
      };
      if !alive {
        break None; // the owner is gone
      }
    };
    self.link = None;
    if let Some((_, task)) = self.connecting.take() {
      task.abort();
    }
    forwarder.stop().await;
    if let Some(ack) = stop_ack {
      let _ = ack.send(());
    }
  }

  /// Sends an event; false when the owner has gone away.
  fn emit(&self, ev: NodeEvent) -> bool {
    self.events.send(ev).is_ok()
  }

  async fn handle_command(&mut self, cmd: NodeCommand) -> bool {
    match cmd {
      NodeCommand::Subscribe(ch) => self.handle_subscribe(ch).await,
      NodeCommand::Unsubscribe(ch) => self.handle_unsubscribe(ch).await,
      NodeCommand::Publish(frames) => self.publish(frames).await,
      NodeCommand::PublishBatch(batch) => {
        for frames in batch {
          self.publish(frames).await;
        }
      }
      NodeCommand::Stop(_) => {} // handled by the loop
    }
    self.report_dropped()
  }

  async fn handle_subscribe(&mut self, ch: Bytes) {
    let prefix_known = self.subs.iter().any(|c| wire_prefix(c) == wire_prefix(&ch));
    if !self.subs.insert(ch.clone()) || prefix_known {
      return;
    }
    if let Some(link) = self.link.as_mut() {
      if link.subscribe(wire_prefix(&ch)).await.is_err() {
        self.lose_link().await;
      }
    }
  }

  async fn handle_unsubscribe(&mut self, ch: Bytes) {
    if !self.subs.remove(&ch) || self.subs.iter().any(|c| wire_prefix(c) == wire_prefix(&ch)) {
      return;
    }
    if let Some(link) = self.link.as_mut() {
      if link.unsubscribe(wire_prefix(&ch)).await.is_err() {
        self.lose_link().await;
      }
    }
  }

  /// Sends through a ready link, or keeps the message for later.
  async fn publish(&mut self, frames: Vec<Bytes>) {
    if frames.is_empty() {
      return;
    }
    if let Some(link) = self.link.as_mut().filter(|l| l.is_ready()) {
      if link.send(frames).await.is_ok() {
        return;
      }
      // The message may or may not have gone out; the link is unusable.
      self.lose_link().await;
      return;
    }
    if self.buffer.len() >= self.opts.publish_buffer {
      self.dropped += 1;
    } else {
      self.buffer.push_back(frames);
    }
  }

  fn report_dropped(&mut self) -> bool {
    if self.dropped == 0 {
      return true;
    }
    let count = std::mem::take(&mut self.dropped);
    self.emit(NodeEvent::Dropped { count })
  }

  async fn handle_datagram(&mut self, bytes: &[u8]) -> bool {
    match codec::parse(bytes) {
      Ok(dg) => {
        let mut out = Vec::new();
        self.election.handle_incoming(dg, Instant::now(), &mut out);
        self.handle_actions(out).await
      }
      Err(_) => {
        self.bad_datagrams = self.bad_datagrams.saturating_add(1);
        true
      }
    }
  }

  async fn handle_actions(&mut self, actions: Vec<Action>) -> bool {
    let mut alive = true;
    for action in actions {
      match action {
        Action::Send(dg) => self.send_datagram(&codec::encode(&dg)).await,
        Action::Elected(meta) => {
          let is_me = meta.id == self.election.me().id;
          alive &= self.emit(NodeEvent::Elected {
            id: meta.id.clone(),
            is_me,
          });
          self.start_connect(meta);
        }
      }
    }
    alive
  }

  async fn send_datagram(&mut self, bytes: &[u8]) {
    if let Err(e) = self.udp.send_to(bytes, self.dest).await {
      // Reported once: a persistent failure would otherwise flood the owner.
      if !self.send_failed {
        self.send_failed = true;
        let _ = self
          .events
          .send(NodeEvent::Error(format!("discovery send failed: {e}")));
      }
    }
  }

  /// Drops the current link and connects to `meta` without blocking the loop.
  fn start_connect(&mut self, meta: NodeMeta) {
    self.link = None;
    if let Some((_, task)) = self.connecting.take() {
      task.abort();
    }
    let task = tokio::spawn(Link::connect(meta.clone(), self.opts.connect_timeout));
    self.connecting = Some((meta, task));
  }

  async fn handle_connected(&mut self, res: Result<Link, LinkError>) -> bool {
    self.connecting = None;
    let mut link = match res {
      Ok(link) if Some(link.master()) == self.election.elected() => link,
      Ok(_) => return true, // elected changed meanwhile; a newer connect runs
      Err(_) => {
        let mut out = Vec::new();
        self
          .election
          .handle_unreachable_winner(Instant::now(), &mut out);
        return self.handle_actions(out).await;
      }
    };
    let mut prefixes: Vec<&[u8]> = self.subs.iter().map(|c| wire_prefix(c)).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    for prefix in prefixes {
      if link.subscribe(prefix).await.is_err() {
        return self.lose_link().await;
      }
    }
    self.link = Some(link);
    true
  }

  async fn handle_link_event(&mut self, ev: LinkEvent) -> bool {
    match ev {
      LinkEvent::Message(frames) => {
        let wanted = frames
          .first()
          .is_some_and(|ch| self.subs.contains(ch) || self.subs.contains(b"*".as_slice()));
        !wanted || self.emit(NodeEvent::Message(frames))
      }
      LinkEvent::Ready => {
        while let Some(frames) = self.buffer.pop_front() {
          self.publish(frames).await;
          if !self.link.as_ref().is_some_and(Link::is_ready) {
            return true; // lost again; the rest waits for the next link
          }
        }
        if self.ready_sent {
          return true;
        }
        self.ready_sent = true;
        self.emit(NodeEvent::Ready)
      }
      LinkEvent::Lost => self.lose_link().await,
    }
  }

  /// The forwarder connection is gone: elect again at once.
  async fn lose_link(&mut self) -> bool {
    self.link = None;
    let mut out = Vec::new();
    self.election.handle_master_lost(Instant::now(), &mut out);
    self.handle_actions(out).await
  }
}

#[cfg(test)]
#[path = "eventloop_tests.rs"]
mod tests;
