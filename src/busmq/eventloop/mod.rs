//! The one task of a bus: owns its Redis connections (one pair per url), feeds the queue state
//! machine with commands from JavaScript, Redis outcomes, notifications and the clock, runs the
//! operations it asks for on the instance that serves each queue, and batches events to
//! JavaScript. Reconnects every second while a Redis is away; operations made meanwhile wait
//! (bounded) and run once it is back.

mod blockers;
mod conns;
mod routing;

use super::codec::{encode_event, encode_reply, event, parse_command};
use super::keys::Endpoint;
use super::lane::LaneCommand;
use super::ops::{self, failed, local_failure, Completion};
use super::state::Queues;
use super::types::{Action, Event, Op};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use blockers::Blockers;
use conns::{next_event, Conn, ConnEvent};
pub use conns::{CONNECT_TIMEOUT, PING_EVERY, PING_TIMEOUT, RESPONSE_TIMEOUT, RETRY};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// Operations held while Redis is away, beyond which new ones fail with `ENOBUFS`.
pub const MAX_PARKED: usize = 1_000_000;
/// How long `disconnect()` waits for calls already sent to Redis (their replies and popped
/// messages still reach JavaScript).
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a key's instance is remembered (busmq's `connectionsCacheTimeout`).
pub const ROUTE_TTL: Duration = Duration::from_secs(600);
/// Remembered instances beyond which expired ones are dropped (names made per request).
const ROUTES_PRUNE_AT: usize = 10_000;

type Running = Pin<Box<dyn Future<Output = Completion> + Send>>;

/// Starts a bus's loop on the current runtime over one connection per target; returns its
/// command channel. With a `lane` (the JS thread's, `crate::busmq::lane`), blocking pops are
/// leased to it.
pub fn spawn<D: Deliver>(
  targets: Vec<Endpoint>,
  name: String,
  outbox: Outbox<D>,
  lane: Option<UnboundedSender<LaneCommand>>,
) -> UnboundedSender<Command> {
  let (tx, rx) = unbounded_channel();
  let clustered = targets
    .iter()
    .any(|t| matches!(t, Endpoint::Cluster { .. }));
  let conns = targets
    .into_iter()
    .enumerate()
    .map(|(i, t)| Conn::new(t, &name, i))
    .collect();
  let bus = BusLoop {
    conns,
    name,
    outbox,
    state: if clustered {
      Queues::clustered()
    } else {
      Queues::new()
    },
    routes: HashMap::new(),
    locating: HashMap::new(),
    parked: 0,
    held: VecDeque::new(),
    blockers: Blockers::default(),
    lane,
    running: FuturesUnordered::new(),
    online: false,
    closing: false,
  };
  tokio::spawn(bus.run(rx));
  tx
}

struct BusLoop<D: Deliver> {
  conns: Vec<Conn>,
  name: String,
  outbox: Outbox<D>,
  state: Queues,
  /// Metadata key -> the instance that serves it, and when that was found.
  routes: HashMap<String, (usize, Instant)>,
  /// Operations waiting for their key's instance to be found, in issue order.
  locating: HashMap<String, Vec<Op>>,
  /// Operations parked on down connections, all connections together.
  parked: usize,
  /// Pops waiting for JavaScript to catch up.
  held: VecDeque<Op>,
  /// Connections of blocking pops, and the pops in flight.
  blockers: Blockers,
  /// The JS thread's lane, which runs the blocking pops when there is one.
  lane: Option<UnboundedSender<LaneCommand>>,
  running: FuturesUnordered<Running>,
  online: bool,
  /// `disconnect()` was called: only finish what the user asked for.
  closing: bool,
}

impl<D: Deliver> BusLoop<D> {
  async fn run(mut self, mut rx: UnboundedReceiver<Command>) {
    loop {
      let far = Instant::now() + Duration::from_secs(3600);
      let touch = self.state.next_deadline().map(Instant::from_std);
      let deadline = self
        .conns
        .iter()
        .filter_map(Conn::deadline)
        .chain(touch)
        .min()
        .unwrap_or(far);
      tokio::select! {
        // Completions first, so operations are first polled (and so sent) in issue order.
        biased;
        Some(done) = self.running.next(), if !self.running.is_empty() => self.completed(done),
        ev = next_event(&mut self.conns) => match ev {
          ConnEvent::Connected(i, Ok((links, stream))) => self.came_online(i, links, stream),
          ConnEvent::Connected(i, Err(err)) => self.connect_failed(i, &err),
          ConnEvent::Message(_, Some(msg)) => {
            let channel = msg.get_channel_name();
            let mut actions = self.state.handle_notify(channel);
            actions.extend(self.state.handle_pubsub_message(channel, msg.get_payload_bytes()));
            self.apply(actions);
          }
          ConnEvent::Message(i, None) => self.went_offline(i, conns::RETRY),
        },
        cmd = rx.recv() => match cmd {
          Some(Command::Batch(batch)) => self.commands(batch),
          Some(Command::Stop) | None => break,
        },
        () = tokio::time::sleep_until(deadline) => self.tick(),
        () = self.outbox.taken(), if self.outbox.has_pending() || !self.held.is_empty() => self.release_held(),
      }
      let pushes = self.state.flush_pushes();
      self.apply(pushes);
      self.outbox.flush();
    }
    self.finish_running().await;
    // Dropping the connections closes them.
    self.conns.clear();
    self.blockers = Blockers::default();
    self.outbox.push::<&[u8]>(event::STOPPED, &[]);
    self.outbox.flush_now();
  }

  /// Timers: liveness PINGs, their timeouts, reconnects, queue touches.
  fn tick(&mut self) {
    let now = Instant::now();
    for i in 0..self.conns.len() {
      if self.conns[i].ping_overdue(now) {
        // Dropping the stream and the links closes both connections; reconnect at once.
        self.went_offline(i, Duration::ZERO);
      }
      if let Some(links) = self.conns[i].ping_due(now) {
        self.running.push(Box::pin(ops::ping(i, links)));
      }
      self.conns[i].retry_if_due(now, &self.name, i);
    }
    let actions = self.state.handle_tick(now.into_std());
    self.apply(actions);
  }

  /// At `disconnect()`: lets the calls already running finish (at most [`STOP_GRACE`]), with
  /// the pushes and attaches they lead to, so replies and popped messages reach JavaScript.
  async fn finish_running(&mut self) {
    self.closing = true;
    // Waiting blocking pops come back now (with what they took, if anything).
    for qid in self.blockers.waiting() {
      self.start(Op::Unblock { qid });
    }
    let deadline = Instant::now() + STOP_GRACE;
    while !self.running.is_empty() {
      match tokio::time::timeout_at(deadline, self.running.next()).await {
        Ok(Some(done)) => {
          self.completed(done);
          let pushes = self.state.flush_pushes();
          self.apply(pushes);
        }
        _ => break,
      }
    }
  }

  fn commands(&mut self, batch: bytes::Bytes) {
    let now = Instant::now().into_std();
    for record in Records::new(batch) {
      let parsed = record
        .map_err(|e| e.to_string())
        .and_then(|r| parse_command(&r).map_err(|e| e.to_string()));
      match parsed {
        Ok(cmd) => {
          let actions = self.state.handle_command(cmd, now);
          self.apply(actions);
        }
        Err(message) => self.bus_error("EPROTO", &message),
      }
    }
  }

  fn apply(&mut self, actions: Vec<Action>) {
    for action in actions {
      match action {
        Action::Emit(event) => self.emit(&event),
        Action::Run(op) => self.start(op),
      }
    }
  }

  fn emit(&mut self, ev: &Event) {
    let outbox = &mut self.outbox;
    encode_event(ev, &mut |kind, frames| outbox.push(kind, frames));
  }

  fn start(&mut self, op: Op) {
    if let Op::Unblock { qid } = op {
      let links: Vec<_> = self.conns.iter().map(|c| c.links.as_ref()).collect();
      if let Some(unblock) = self.blockers.unblock(qid, &links) {
        self.running.push(unblock);
      }
      return;
    }
    let is_pop = matches!(op, Op::Pop { .. } | Op::Peek { .. });
    // Closing: what the user asked for (pushes, their attach, queries, close) still runs;
    // background work (pops, touches, subscriptions) does not start any more.
    let background = is_pop
      || matches!(
        op,
        Op::Touch { .. } | Op::Subscribe { .. } | Op::Unsubscribe { .. } | Op::Restore { .. }
      );
    if self.closing && background {
      return;
    }
    if is_pop && self.outbox.congested() {
      // JS is far behind: pops wait, so Redis keeps the messages rather than our memory.
      self.held.push_back(op);
      return;
    }
    match self.instance_of(&op) {
      Some(index) => self.start_on(index, op),
      None => self.locate(op),
    }
  }

  fn start_on(&mut self, index: usize, op: Op) {
    let conn = &mut self.conns[index];
    match &conn.links {
      Some(links) => {
        let blocking = match &op {
          Op::Pop {
            qid,
            messages,
            count,
            toack: None,
            block: true,
            remaining,
            ..
          } => self
            .blockers
            .pop(
              index,
              links,
              *qid,
              messages,
              *count,
              *remaining,
              self.lane.as_ref(),
            )
            .map(|run| (run, *qid)),
          _ => None,
        };
        let leased = blocking.as_ref().and(self.lane.as_ref()).is_some();
        let (run, qid) = blocking.unzip();
        self
          .running
          .push(run.unwrap_or_else(|| Box::pin(ops::run(op, links.clone()))));
        if let Some(qid) = qid.filter(|_| leased) {
          self.leasing(qid);
        }
      }
      None if self.parked < MAX_PARKED => {
        conn.parked.push_back(op);
        self.parked += 1;
      }
      None => {
        let done = failed(
          op,
          local_failure("ENOBUFS", "too many operations waiting for redis"),
        );
        self.completed(done);
      }
    }
  }

  fn release_held(&mut self) {
    while !self.outbox.congested() {
      let Some(op) = self.held.pop_front() else {
        break;
      };
      self.start(op);
    }
  }

  fn completed(&mut self, done: Completion) {
    crate::runtime::activity();
    match done {
      Completion::Pong(i) => self.conns[i].pong(),
      Completion::Located {
        key,
        index,
        complete,
      } => self.located(key, index, complete),
      Completion::Blocking {
        index,
        qid,
        blocker,
        done,
      } => {
        if blocker.is_none() && self.conns[index].links.is_some() {
          // Lost or never made while the url is up: plain pops there until it reconnects.
          self.blockers.disable(index);
        }
        self.blockers.returned(index, qid, blocker);
        let actions = self.state.handle_done(done, Instant::now().into_std());
        self.apply(actions);
      }
      Completion::Leased { index, qid, end } => self.lease_ended(index, qid, end),
      Completion::State(done) => {
        let actions = self.state.handle_done(done, Instant::now().into_std());
        self.apply(actions);
      }
      Completion::Reply { rid, qid, result } => match result {
        Ok(value) => {
          let outbox = &mut self.outbox;
          encode_reply(rid, &value, &mut |kind, frames| outbox.push(kind, frames));
        }
        Err(f) if rid == 0 => self.emit(&Event::Error {
          qid,
          code: f.code,
          message: f.message,
        }),
        Err(f) => self.emit(&Event::ReplyError {
          rid,
          code: f.code,
          message: f.message,
        }),
      },
    }
  }

  fn came_online(&mut self, i: usize, links: ops::Links, stream: redis::aio::PubSubStream) {
    self.conns[i].up(links, stream);
    self.blockers.reset(i);
    if !self.online && self.conns.iter().all(|c| c.links.is_some()) {
      // busmq's rule: online once every connection is ready.
      self.online = true;
      self.outbox.push::<&[u8]>(event::ONLINE, &[]);
    }
    // Subscriptions of this connection are gone with its old stream: subscribe again (a
    // channel already subscribed elsewhere is subscribed again harmlessly) and look for
    // messages pushed meanwhile.
    let actions = self.state.handle_online();
    self.apply(actions);
    let parked = std::mem::take(&mut self.conns[i].parked);
    self.parked -= parked.len();
    for op in parked {
      self.start_on(i, op);
    }
  }

  fn went_offline(&mut self, i: usize, retry_after: Duration) {
    self.conns[i].down(retry_after);
    self.blockers.reset(i);
    if self.online && self.conns.iter().all(|c| c.links.is_none()) {
      // busmq's rule: offline only when every connection is lost.
      self.online = false;
      self
        .outbox
        .push(event::OFFLINE, &[b"connection to redis lost"]);
    }
  }

  fn connect_failed(&mut self, i: usize, err: &redis::RedisError) {
    self.conns[i].down(conns::RETRY);
    // One error per outage, not one per retry.
    if !std::mem::replace(&mut self.conns[i].down_reported, true) {
      let f = ops::failure(err);
      let message = if self.conns.len() > 1 {
        format!("{}: {}", self.conns[i].target.describe(), f.message)
      } else {
        f.message
      };
      self.bus_error(&f.code, &message);
    }
  }

  fn bus_error(&mut self, code: &str, message: &str) {
    self
      .outbox
      .push(event::BUS_ERROR, &[code.as_bytes(), message.as_bytes()]);
  }
}
