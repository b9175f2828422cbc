//! The task of one zmqbus node. It owns the discovery socket, the election
//! state, the node's forwarder and the data-path link, and talks to its owner
//! (the napi binding, or a test) through a command channel and an
//! [`EventSink`].
//!
//! One loop turn: wait for one input (command, datagram, timer, connect
//! result, data-path event, the owner taking a batch), handle it, then let
//! the sink flush once, so events reach JavaScript in batches.

use std::collections::{HashSet, VecDeque};
use std::future::{poll_fn, Future};
use std::net::SocketAddrV4;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use super::api::{BusError, NodeCommand, NodeEvent, NodeHandle};
use super::auth::DatagramAuth;
use super::codec::{self, NodeMeta, MAX_DATAGRAM};
use super::connect::Connect;
use super::datagrams::Refusals;
use super::discovery;
use super::election::{Action, Election};
use super::forwarder::{Forwarder, ForwarderListeners, LocalInput};
use super::link::{Link, LinkEvent};
use super::options::NodeOptions;
use super::sink::EventSink;
use crate::boundary::batch::Records;
use crate::driver::reactor::{IoDatagram, IoSleep, Reactor, Tokio};

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
  let (handle, run) = open_node(opts, sink, Tokio)?;
  tokio::spawn(run);
  Ok(handle)
}

/// Sets a node up on `reactor` (its discovery socket, timers and data path) and returns its handle with
/// the future that runs it, for the caller to poll where the reactor lives (a tokio task, or a task on a
/// JS thread's libuv loop). Its forwarder starts on the current tokio runtime and stays there: it serves
/// every node of the cluster.
///
/// # Errors
/// As [`spawn_node`].
pub fn open_node<R: Reactor + Clone, S: EventSink>(
  opts: NodeOptions,
  sink: S,
  reactor: R,
) -> Result<(NodeHandle, impl Future<Output = ()>), BusError> {
  tokio::runtime::Handle::try_current().map_err(|_| BusError::NoRuntime)?;
  let iface = discovery::resolve_interface(opts.multicast_interface, opts.multicast_addr)?;
  let (udp, dest) = discovery::open(&opts, iface)?;
  let udp = reactor.datagram(udp)?;
  let listeners = ForwarderListeners::bind(opts.multicast_interface, iface)?;
  let meta = NodeMeta {
    id: codec::generate_id(opts.election_priority),
    sub_addr: listeners.sub_addr.clone(),
    pub_addr: listeners.pub_addr.clone(),
  };
  let (commands, rx) = mpsc::unbounded_channel();
  let forwarder_stats = listeners.stats.clone();
  let forwarder = Forwarder::start(listeners, &opts.security.server);
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
    tick: Alarm::new(reactor.sleep()),
    hold: Alarm::new(reactor.sleep()),
    shed: Alarm::new(reactor.sleep()),
    reactor,
    subs: HashSet::new(),
    buffer: VecDeque::new(),
    dropped: 0,
    discarded: 0,
    congested_since: None,
    hold_until: None,
    unfinished: None,
    local_input: None,
    recent: VecDeque::new(),
    stale_until: None,
    ready_sent: false,
    send_failed: false,
    refused: Refusals::default(),
  };
  let handle = NodeHandle {
    commands,
    meta,
    forwarder_stats,
  };
  Ok((handle, node.run(forwarder)))
}

/// Waits `pause` on `sleep`, a fresh timer of the node's reactor.
async fn pause<T: IoSleep>(mut sleep: T, pause: Duration) {
  sleep.reset(std::time::Instant::now() + pause);
  poll_fn(|cx| sleep.poll_fired(cx)).await;
}

/// A reactor timer armed at an optional instant, re-armed only when that instant changes.
pub(super) struct Alarm<T: IoSleep> {
  sleep: T,
  at: Option<Instant>,
}

impl<T: IoSleep> Alarm<T> {
  fn new(sleep: T) -> Self {
    Self { sleep, at: None }
  }

  /// Fires at `at`, or never for `None`.
  fn set(&mut self, at: Option<Instant>) {
    if self.at != at {
      self.at = at;
      if let Some(at) = at {
        self.sleep.reset(at.into_std());
      }
    }
  }

  fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    match self.at {
      Some(_) => self.sleep.poll_fired(cx),
      None => Poll::Pending,
    }
  }
}

/// The state owned by the node's task.
pub(super) struct Node<R: Reactor, S: EventSink> {
  pub(super) opts: NodeOptions,
  pub(super) election: Election,
  /// Signs and checks discovery datagrams (`cluster_key`).
  pub(super) auth: DatagramAuth,
  pub(super) udp: R::Datagram,
  pub(super) dest: SocketAddrV4,
  pub(super) sink: S,
  commands: mpsc::UnboundedReceiver<NodeCommand>,
  pub(super) link: Option<Link<R>>,
  /// A connect in progress to the elected forwarder.
  connecting: Option<Connect<R>>,
  /// The election's next deadline.
  tick: Alarm<R::Sleep>,
  /// The end of a publish hold ([`LINK_SETTLE`], [`SUB_SETTLE`]).
  hold: Alarm<R::Sleep>,
  /// When a congested owner starts costing messages ([`SHED_AFTER`]).
  shed: Alarm<R::Sleep>,
  pub(super) reactor: R,
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
  /// Until then, messages read are a stale backlog left by a stalled inline owner (see `note_stall`).
  pub(super) stale_until: Option<Instant>,
  pub(super) ready_sent: bool,
  pub(super) send_failed: bool,
  /// Discovery datagrams refused (codec or authentication), by reason, not yet reported.
  pub(super) refused: Refusals,
}

async fn next_link_event<R: Reactor>(link: &mut Option<Link<R>>, read: bool) -> LinkEvent {
  match link {
    Some(link) => link.next_event(read).await,
    None => std::future::pending().await,
  }
}

impl<R: Reactor + Clone, S: EventSink> Node<R, S> {
  async fn run(mut self, forwarder: std::io::Result<Forwarder>) {
    let forwarder = match forwarder {
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
      self.tick.set(Some(self.election.next_deadline()));
      let (read, shed_at) = self.reading_state();
      self.hold.set(self.hold_until);
      self.shed.set(shed_at);
      // Each branch is cancel-safe (channel, socket and stream reads, a
      // timer, a connect polled in place), and handlers run after the others are dropped.
      let alive = tokio::select! {
        // Commands wait while a batch is unfinished: order is kept.
        cmd = self.commands.recv(), if self.unfinished.is_none() => match cmd {
          Some(NodeCommand::Stop(ack)) => break Some(ack),
          Some(cmd) => self.handle_command(cmd).await,
          None => break None,
        },
        got = poll_fn(|cx| self.udp.poll_recv_from(cx, &mut buf)) => match got {
          Ok((n, from)) => self.handle_datagram(&buf[..n], from).await,
          Err(_) => {
            // ICMP errors and the like: nothing to do, but never spin hot
            // on a socket that keeps failing.
            pause(self.reactor.sleep(), Duration::from_millis(5)).await;
            true
          }
        },
        () = poll_fn(|cx| self.tick.poll(cx)) => {
          let mut out = Vec::new();
          self.election.handle_tick(Instant::now(), &mut out);
          // Counts (refused datagrams among them) go out at least once per period.
          self.handle_actions(out).await && self.report_counts()
        },
        res = poll_fn(|cx| match self.connecting.as_mut() {
          Some(connect) => connect.poll(cx),
          None => Poll::Pending,
        }) => self.handle_connected(res).await,
        ev = next_link_event(&mut self.link, read) => self.handle_link_event(ev).await,
        // JS took a batch: what accumulated meanwhile can go (flush below).
        _ = self.sink.taken(), if self.sink.has_pending() => true,
        // yield_now, not an always-ready future: the forwarder and the other
        // tasks of this thread get their turn between two slices.
        _ = tokio::task::yield_now(), if self.unfinished.is_some() => self.continue_batch().await,
        () = poll_fn(|cx| self.hold.poll(cx)) => self.release_buffer().await,
        // Congested for too long: the next turn reads and discards.
        () = poll_fn(|cx| self.shed.poll(cx)) => true,
      };
      let flushed = Instant::now();
      self.sink.flush();
      self.note_stall(flushed);
      if !alive {
        break None; // the owner is gone
      }
    };
    self.link = None;
    self.connecting = None;
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
    let local = (self.local_input.clone()).filter(|_| meta.id == self.election.me().id);
    self.connecting = Some(Connect::start(
      meta,
      local,
      self.opts.connect_timeout,
      &self.opts.security.client,
      &self.reactor,
    ));
  }

  async fn handle_connected(&mut self, res: Result<Link<R>, super::link::LinkError>) -> bool {
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
