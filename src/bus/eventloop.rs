//! The task of one zmqbus node. It owns the discovery socket, the election
//! state, the node's forwarder and the data-path link, and talks to its owner
//! (the napi binding, or a test) through a command channel and an
//! [`EventSink`].
//!
//! One loop turn: wait for one input (command, datagram, timer, connect
//! result, data-path event, the owner taking a batch), handle it, then let
//! the sink flush once, so events reach JavaScript in batches.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddrV4;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use super::api::{BusError, NodeCommand, NodeEvent, NodeHandle};
use super::auth::DatagramAuth;
use super::codec::{self, NodeMeta, MAX_DATAGRAM};
use super::datagrams::Refusals;
use super::discovery;
use super::election::{Action, Election};
use super::forwarder::{Forwarder, ForwarderListeners, LocalInput};
use super::link::{Link, LinkError, LinkEvent};
use super::options::NodeOptions;
use super::sink::EventSink;
use crate::boundary::batch::Records;

/// While the owner stays congested this long, incoming messages are read
/// and discarded (counted) instead of left in the socket: a short pause rides
/// on TCP and forwarder buffers, a long one must not turn into silent loss
/// at the forwarder.
pub const SHED_AFTER: Duration = Duration::from_millis(100);

/// After a (re)connection to a forwarder, publishes wait this long so that
/// the other nodes, told of the same election, connect their subscribers
/// first; otherwise a failover would lose the buffered messages to the new
/// forwarder's not-yet-subscribed peers.
pub const LINK_SETTLE: Duration = Duration::from_millis(50);

/// After sending a subscription, publishes wait this long so that the
/// subscription reaches the forwarder before our own next messages do (they
/// travel on different connections).
pub const SUB_SETTLE: Duration = Duration::from_millis(10);

/// Longest stretch of one loop turn spent on a batch of commands; the rest
/// of the batch waits for the next turn, so heartbeats and elections are
/// never starved by a flood of publishes.
pub const TURN_BUDGET: Duration = Duration::from_millis(5);

/// Starts a node on the current tokio runtime, reporting on a channel.
/// Sockets are bound before this returns, so setup errors come back here;
/// later failures arrive as [`NodeEvent::Error`].
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
  spawn_node_with(opts, events)
}

/// Like [`spawn_node`], reporting into any [`EventSink`] (the napi binding
/// passes an outbox that batches events for JavaScript).
///
/// # Errors
/// As [`spawn_node`].
///
/// # Panics
/// As [`spawn_node`].
pub fn spawn_node_with<S: EventSink>(opts: NodeOptions, sink: S) -> Result<NodeHandle, BusError> {
  tokio::runtime::Handle::try_current().map_err(|_| BusError::NoRuntime)?;
  let iface = discovery::resolve_interface(opts.multicast_interface, opts.multicast_addr)?;
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
    auth: DatagramAuth::new(opts.cluster_key.clone()),
    opts,
    udp,
    dest,
    sink,
    commands: rx,
    link: None,
    connecting: None,
    subs: HashSet::new(),
    buffer: VecDeque::new(),
    dropped: 0,
    discarded: 0,
    congested_since: None,
    hold_until: None,
    unfinished: None,
    local_input: None,
    recent: VecDeque::new(),
    ready_sent: false,
    send_failed: false,
    refused: Refusals::default(),
  };
  let forwarder_stats = listeners.stats.clone();
  tokio::spawn(node.run(listeners));
  Ok(NodeHandle {
    commands,
    meta,
    forwarder_stats,
  })
}

/// A connect in progress to an elected forwarder.
type Connecting = (NodeMeta, JoinHandle<Result<Link, LinkError>>);

/// The state owned by the node's task.
pub(super) struct Node<S: EventSink> {
  pub(super) opts: NodeOptions,
  pub(super) election: Election,
  /// Signs and checks discovery datagrams (`cluster_key`).
  pub(super) auth: DatagramAuth,
  pub(super) udp: UdpSocket,
  pub(super) dest: SocketAddrV4,
  pub(super) sink: S,
  commands: mpsc::UnboundedReceiver<NodeCommand>,
  pub(super) link: Option<Link>,
  connecting: Option<Connecting>,
  /// Exact channels subscribed by the owner.
  pub(super) subs: HashSet<Bytes>,
  /// Publishes waiting for a ready link.
  pub(super) buffer: VecDeque<Vec<Bytes>>,
  /// Publishes lost to a full buffer, not yet reported.
  pub(super) dropped: u64,
  /// Incoming messages discarded while the owner was behind, not yet reported.
  pub(super) discarded: u64,
  /// Since when the sink has been congested.
  pub(super) congested_since: Option<Instant>,
  /// Publishes wait in the buffer until then (see [`LINK_SETTLE`]).
  pub(super) hold_until: Option<Instant>,
  /// The rest of a command batch that did not fit in one turn.
  pub(super) unfinished: Option<Records>,
  /// Our forwarder's input for our own publishes while we are the master.
  local_input: Option<LocalInput>,
  /// Publishes written lately, kept for `resend_window` (see [`NodeOptions`]).
  pub(super) recent: VecDeque<(Instant, Vec<Bytes>)>,
  pub(super) ready_sent: bool,
  pub(super) send_failed: bool,
  /// Discovery datagrams refused (codec or authentication), by reason, not yet reported.
  pub(super) refused: Refusals,
}

async fn next_link_event(link: &mut Option<Link>, read: bool) -> LinkEvent {
  match link {
    Some(link) => link.next_event(read).await,
    None => std::future::pending().await,
  }
}

async fn join_connect(connecting: &mut Option<Connecting>) -> Result<Link, LinkError> {
  match connecting {
    Some((meta, task)) => match task.await {
      Ok(result) => result,
      Err(join) => Err(LinkError::Connect {
        addr: meta.sub_addr.clone(),
        reason: if join.is_panic() {
          "panic"
        } else {
          "cancelled"
        }
        .into(),
      }),
    },
    None => std::future::pending().await,
  }
}

/// Sleeps until `at`, or for ever when there is no such instant.
async fn sleep_until_some(at: Option<Instant>) {
  match at {
    Some(at) => tokio::time::sleep_until(at).await,
    None => std::future::pending().await,
  }
}

impl<S: EventSink> Node<S> {
  async fn run(mut self, listeners: ForwarderListeners) {
    let forwarder = match Forwarder::start(listeners, &self.opts.security.server).await {
      Ok(f) => f,
      Err(e) => {
        self.emit(NodeEvent::Error(format!("forwarder: {e}")));
        self.emit(NodeEvent::Stopped);
        self.sink.finish();
        return;
      }
    };
    self.local_input = Some(forwarder.local_input());
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let stop_ack = loop {
      let deadline = self.election.next_deadline();
      let (read, shed_at) = self.reading_state();
      // Each branch is cancel-safe (channel, socket and stream reads, a
      // timer, a join handle), and handlers run after the others are dropped.
      let alive = tokio::select! {
        // Commands wait while a batch is unfinished: order is kept.
        cmd = self.commands.recv(), if self.unfinished.is_none() => match cmd {
          Some(NodeCommand::Stop(ack)) => break Some(ack),
          Some(cmd) => self.handle_command(cmd).await,
          None => break None,
        },
        got = self.udp.recv_from(&mut buf) => match got {
          Ok((n, from)) => self.handle_datagram(&buf[..n], from).await,
          Err(_) => {
            // ICMP errors and the like: nothing to do, but never spin hot
            // on a socket that keeps failing.
            tokio::time::sleep(Duration::from_millis(5)).await;
            true
          }
        },
        _ = tokio::time::sleep_until(deadline) => {
          let mut out = Vec::new();
          self.election.handle_tick(Instant::now(), &mut out);
          // Counts (refused datagrams among them) go out at least once per period.
          self.handle_actions(out).await && self.report_counts()
        },
        res = join_connect(&mut self.connecting) => self.handle_connected(res).await,
        ev = next_link_event(&mut self.link, read) => self.handle_link_event(ev).await,
        // JS took a batch: what accumulated meanwhile can go (flush below).
        _ = self.sink.taken(), if self.sink.has_pending() => true,
        // yield_now, not an always-ready future: the forwarder and the other
        // tasks of this runtime thread get their turn between two slices.
        _ = tokio::task::yield_now(), if self.unfinished.is_some() => self.continue_batch().await,
        _ = sleep_until_some(self.hold_until) => self.release_buffer().await,
        // Congested for too long: the next turn reads and discards.
        _ = sleep_until_some(shed_at) => true,
      };
      self.sink.flush();
      if !alive {
        break None; // the owner is gone
      }
    };
    self.link = None;
    if let Some((_, task)) = self.connecting.take() {
      task.abort();
    }
    forwarder.stop().await;
    self.report_counts();
    self.emit(NodeEvent::Stopped);
    self.sink.finish();
    if let Some(ack) = stop_ack {
      let _ = ack.send(());
    }
  }

  /// Whether to read messages now and, while paused, when shedding starts.
  fn reading_state(&mut self) -> (bool, Option<Instant>) {
    if !self.sink.congested() {
      self.congested_since = None;
      return (true, None);
    }
    let since = *self.congested_since.get_or_insert_with(Instant::now);
    let shed_at = since + SHED_AFTER;
    if Instant::now() >= shed_at {
      (true, None)
    } else {
      (false, Some(shed_at))
    }
  }

  /// Sends an event; false when the owner has gone away.
  pub(super) fn emit(&mut self, ev: NodeEvent) -> bool {
    self.sink.emit(ev)
  }

  pub(super) async fn handle_actions(&mut self, actions: Vec<Action>) -> bool {
    let mut alive = true;
    for action in actions {
      match action {
        Action::Send(dg) => self.send_datagram(&dg).await,
        Action::Elected(meta) => {
          let is_me = meta.id == self.election.me().id;
          tracing::debug!(target: crate::log::target::BUS, id = %meta.id, is_me, sub = %meta.sub_addr, publ = %meta.pub_addr, "elected");
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

  /// Drops the current link and connects to `meta` without blocking the loop.
  fn start_connect(&mut self, meta: NodeMeta) {
    if self.link.take().is_some() {
      self.requeue_recent(); // the old forwarder may not have relayed them
    }
    self.hold_until = None;
    if let Some((_, task)) = self.connecting.take() {
      task.abort();
    }
    let timeout = self.opts.connect_timeout;
    let mechanism = self.opts.security.client.clone();
    let task = match self.local_input.clone() {
      Some(input) if meta.id == self.election.me().id => {
        tokio::spawn(Link::connect_local(meta.clone(), input, timeout, mechanism))
      }
      _ => tokio::spawn(Link::connect(meta.clone(), timeout, mechanism)),
    };
    self.connecting = Some((meta, task));
  }

  async fn handle_connected(&mut self, res: Result<Link, LinkError>) -> bool {
    self.connecting = None;
    let mut link = match res {
      Ok(link) if Some(link.master()) == self.election.elected() => link,
      Ok(_) => return true, // elected changed meanwhile; a newer connect runs
      Err(err) => {
        let master = self
          .election
          .elected()
          .map(|m| m.sub_addr.clone())
          .unwrap_or_default();
        tracing::debug!(target: crate::log::target::BUS, %master, %err, "cannot reach the elected forwarder");
        let mut out = Vec::new();
        self
          .election
          .handle_unreachable_winner(Instant::now(), &mut out);
        return self.handle_actions(out).await;
      }
    };
    for prefix in self.wire_prefixes() {
      if link.subscribe(&prefix).await.is_err() {
        return self.lose_link().await;
      }
    }
    self.link = Some(link);
    true
  }

  /// The forwarder connection is gone: elect again at once.
  pub(super) async fn lose_link(&mut self) -> bool {
    tracing::debug!(target: crate::log::target::BUS, "connection to the master's forwarder lost: electing");
    self.link = None;
    self.hold_until = None;
    self.requeue_recent();
    let mut out = Vec::new();
    self.election.handle_master_lost(Instant::now(), &mut out);
    self.handle_actions(out).await
  }
}

#[cfg(test)]
#[path = "eventloop_tests.rs"]
mod tests;
