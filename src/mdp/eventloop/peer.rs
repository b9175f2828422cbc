//! The loop a client and a worker share: one DEALER session towards the broker, the role's pure state
//! machine, commands from JS, events to JS, the heartbeat tick and the role's deadlines on one timer.
//!
//! It is a poll function, not an `async fn`, so the same code runs as a tokio task on the runtime thread
//! (`spawn`) and as a task on the JS thread's libuv loop (`crate::uvloop::task`), where its events reach JS
//! synchronously and the sends JS makes while handling them leave in one write.
//!
//! A turn: apply what the state machine queued, open a new session when one is due, write, deliver; then
//! take every input that is ready (commands, up to [`DRAIN_LIMIT`] socket messages, due timers) and turn
//! again, or arm the timer at the next deadline and wait.

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::session::{fail, Session};
use super::{kinds, new_identity, DRAIN_LIMIT};
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use crate::driver::dealer::DealerEvent;
use crate::driver::reactor::{IoSleep, Reactor};
use crate::driver::ServerConfig;
use crate::transport::TransportError;

/// Most turns one poll takes before it yields, so a flood never holds the thread for long.
const MAX_TURNS: usize = 64;
/// Time one poll may take once it has delivered a batch to JS (whose handlers may be slow) before it yields.
const TURN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// How a session starts and restarts.
#[derive(Clone)]
pub struct LinkParams {
  /// Broker endpoint.
  pub broker: String,
  /// Identity prefix for new sessions.
  pub prefix: String,
  /// Identity of the first session (made by JS, which already reported it).
  pub identity: String,
  /// Heartbeat period.
  pub heartbeat: Duration,
  /// Pause before reconnecting after liveness ran out.
  pub reconnect: Duration,
  /// The connection's configuration: mechanism (CURVE/PLAIN client), limits.
  pub config: ServerConfig,
}

/// What the role's outputs act on: the session, the outbox, and when the next session opens.
pub struct Link<R: Reactor, D: Deliver> {
  /// The DEALER towards the broker.
  pub session: Session<R>,
  /// Events for JS.
  pub outbox: Outbox<D>,
  /// How sessions start.
  pub params: LinkParams,
  /// While `Some`, this session is over and a new one opens at that instant.
  pub reconnect_at: Option<Instant>,
  reactor: R,
}

impl<R: Reactor + Clone, D: Deliver> Link<R, D> {
  /// Ends this session now; a new one opens after `pause`.
  pub fn reconnect_after(&mut self, pause: Duration) {
    self.reconnect_at = Some(Instant::now() + pause);
  }

  /// Opens the next session under a new identity and tells JS its name.
  fn reopen(&mut self) -> Result<(), TransportError> {
    self.reconnect_at = None;
    let identity = new_identity(&self.params.prefix);
    let p = &self.params;
    self.session = Session::open(&p.broker, identity.clone(), &p.config, self.reactor.clone())?;
    self.outbox.push(kinds::E_STARTED, &[identity.as_bytes()]);
    Ok(())
  }
}

/// What differs between a client and a worker: the state machine and how its outputs act.
pub trait Role {
  /// Starts (or restarts) the state machine: READY, the first heartbeat.
  fn start(&mut self, now: Instant);
  /// Acts on everything the state machine queued.
  fn apply<R: Reactor + Clone, D: Deliver>(&mut self, link: &mut Link<R, D>);
  /// A message from the broker.
  fn on_message(&mut self, frames: &[Bytes], now: Instant);
  /// The connection to the broker came up (handshake done).
  fn on_up(&mut self) {}
  /// The connection to the broker closed (the DEALER is redialling).
  fn on_down(&mut self);
  /// The heartbeat period passed.
  fn on_tick(&mut self, now: Instant);
  /// A batch of commands from JS.
  fn on_commands(&mut self, batch: Bytes, now: Instant);
  /// The role's own next deadline (request timeouts), if any.
  fn deadline(&mut self) -> Option<Instant> {
    None
  }
  /// The role's deadline passed.
  fn on_deadline(&mut self, _now: Instant) {}
  /// Stop was asked: what to say before the connection closes.
  fn on_stop(&mut self) {}
}

/// One session loop of role `P` on reactor `R`, delivering into `D`.
pub struct PeerLoop<P: Role, R: Reactor + Clone, D: Deliver> {
  role: P,
  link: Link<R, D>,
  commands: UnboundedReceiver<Command>,
  next_tick: Instant,
  timer: R::Sleep,
  timer_at: Option<Instant>,
}

/// A loop, or the outbox back when its first session could not open (see [`PeerLoop::open`]).
pub type Opened<P, R, D> = Result<PeerLoop<P, R, D>, Box<(Outbox<D>, String)>>;

impl<P: Role, R: Reactor + Clone, D: Deliver> PeerLoop<P, R, D> {
  /// Opens the first session and starts `role`.
  ///
  /// # Errors
  /// The outbox back with the reason, for [`PeerLoop::fail`], when the session cannot open.
  pub fn open(
    mut role: P,
    params: LinkParams,
    outbox: Outbox<D>,
    commands: UnboundedReceiver<Command>,
    reactor: R,
  ) -> Opened<P, R, D> {
    let session = match Session::open(
      &params.broker,
      params.identity.clone(),
      &params.config,
      reactor.clone(),
    ) {
      Ok(s) => s,
      Err(err) => return Err(Box::new((outbox, err.to_string()))),
    };
    let now = Instant::now();
    role.start(now);
    let timer = reactor.sleep();
    Ok(Self {
      role,
      next_tick: now + params.heartbeat,
      link: Link {
        session,
        outbox,
        params,
        reconnect_at: None,
        reactor,
      },
      commands,
      timer,
      timer_at: None,
    })
  }

  /// Ends a loop that could not open: an error, then `E_STOPPED`.
  #[allow(clippy::boxed_local)] // the boxed error of `open`, handed on as it came
  pub fn fail(failed: Box<(Outbox<D>, String)>) {
    let (outbox, reason) = *failed;
    fail(outbox, &reason);
  }

  /// Runs until nothing is ready; `Ready` once stopped (`E_STOPPED` delivered).
  pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    let started = std::time::Instant::now();
    for _ in 0..MAX_TURNS {
      self.role.apply(&mut self.link);
      let now = Instant::now();
      if self.link.reconnect_at.is_some_and(|at| at <= now) {
        if let Err(err) = self.link.reopen() {
          self.link.outbox.push(
            kinds::E_ERROR,
            &[b"EINVAL".as_slice(), err.to_string().as_bytes()],
          );
          return self.finish();
        }
        self.role.start(now);
        self.next_tick = now + self.link.params.heartbeat;
        continue;
      }
      self.link.session.dealer.flush();
      if self.link.outbox.flush() && started.elapsed() >= TURN_BUDGET {
        break;
      }
      match self.poll_inputs(cx) {
        None => return self.finish(),
        Some(true) => continue,
        Some(false) => {}
      }
      if self.poll_timer(cx).is_pending() {
        return Poll::Pending;
      }
    }
    // Still busy: let the rest of the thread run, then come back.
    cx.waker().wake_by_ref();
    Poll::Pending
  }

  /// Takes every ready input; `Some(true)` when something was taken, `None` when stop was asked.
  fn poll_inputs(&mut self, cx: &mut Context<'_>) -> Option<bool> {
    let mut busy = false;
    loop {
      match self.commands.poll_recv(cx) {
        Poll::Ready(Some(Command::Batch(batch))) => {
          self.role.on_commands(batch, Instant::now());
          busy = true;
        }
        Poll::Ready(Some(Command::Stop)) | Poll::Ready(None) => return None,
        Poll::Pending => break,
      }
    }
    if self.link.reconnect_at.is_none() && !self.link.outbox.congested() {
      busy |= self.drain_socket(cx);
    }
    if self.link.outbox.has_pending() && self.link.outbox.poll_taken(cx).is_ready() {
      busy = true;
    }
    Some(busy | self.on_time(Instant::now()))
  }

  /// Hands up to [`DRAIN_LIMIT`] socket events to the role; true when any was there.
  fn drain_socket(&mut self, cx: &mut Context<'_>) -> bool {
    let now = Instant::now();
    for taken in 0..DRAIN_LIMIT {
      match self.link.session.dealer.poll_recv(cx) {
        Poll::Ready(DealerEvent::Message(frames)) => self.role.on_message(&frames, now),
        // The DEALER reconnects under the same identity; liveness (or the role) decides when the
        // session ends.
        Poll::Ready(DealerEvent::Up) => self.role.on_up(),
        Poll::Ready(DealerEvent::Down) => {
          self.role.on_down();
          return true;
        }
        Poll::Pending => return taken > 0,
      }
    }
    true
  }

  /// Runs the tick and the role's deadline when due; true when one ran.
  fn on_time(&mut self, now: Instant) -> bool {
    let mut ran = false;
    if self.link.reconnect_at.is_none() && self.next_tick <= now {
      // A late tick is not made up for: the next one is a full period away (tokio's `Delay`).
      self.next_tick = now + self.link.params.heartbeat;
      self.role.on_tick(now);
      ran = true;
    }
    if self.role.deadline().is_some_and(|at| at <= now) {
      self.role.on_deadline(now);
      ran = true;
    }
    ran
  }

  /// Arms the timer at the earliest deadline; `Ready` when it has passed already.
  fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    let tick = self.link.reconnect_at.is_none().then_some(self.next_tick);
    let at = [tick, self.role.deadline(), self.link.reconnect_at]
      .into_iter()
      .flatten()
      .min();
    let Some(at) = at else { return Poll::Pending };
    if self.timer_at != Some(at) {
      self.timer.reset(at.into_std());
      self.timer_at = Some(at);
    }
    let fired = self.timer.poll_fired(cx);
    if fired.is_ready() {
      self.timer_at = None;
    }
    fired
  }

  /// Stop: the role's goodbye goes out in one last write, then `E_STOPPED`.
  fn finish(&mut self) -> Poll<()> {
    self.role.on_stop();
    self.role.apply(&mut self.link);
    // The connection closes when the caller drops this loop, after the goodbye is written.
    self.link.session.dealer.flush();
    self.link.outbox.push(kinds::E_STOPPED, &[] as &[&[u8]]);
    self.link.outbox.flush_now();
    Poll::Ready(())
  }
}
