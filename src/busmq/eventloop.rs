//! The one task of a bus: owns its Redis connections, feeds the queue state machine with
//! commands from JavaScript, Redis outcomes, notifications and the clock, runs the operations
//! it asks for, and batches events to JavaScript. Reconnects every second while Redis is away;
//! operations made meanwhile wait (bounded) and run once it is back.

use super::codec::{encode_event, encode_reply, event, parse_command};
use super::keys::RedisTarget;
use super::ops::{self, failed, local_failure, Completion, Links};
use super::state::Queues;
use super::types::{Action, Event, Op};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::boundary::Command;
use futures::stream::{FuturesUnordered, StreamExt};
use redis::aio::PubSubStream;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, RedisResult};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// Operations held while Redis is away, beyond which new ones fail with `ENOBUFS`.
pub const MAX_PARKED: usize = 1_000_000;
/// Pause between connection attempts (busmq's).
pub const RETRY: Duration = Duration::from_secs(1);
/// Longest wait for one connection attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a live connection is checked with PING (busmq's period).
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// A PING unanswered this long means Redis is gone (hung, or a silent network): go offline and
/// reconnect.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for any reply. Long, because a call that times out may still have run (a pop
/// whose messages we would then never deliver); a hung Redis is caught sooner by the PING.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `disconnect()` waits for calls already sent to Redis (their replies and popped
/// messages still reach JavaScript).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

type Connecting = Pin<Box<dyn Future<Output = RedisResult<(Links, PubSubStream)>> + Send>>;
type Running = Pin<Box<dyn Future<Output = Completion> + Send>>;

/// Starts a bus's loop on the current runtime; returns its command channel.
pub fn spawn<D: Deliver>(
  target: RedisTarget,
  name: String,
  outbox: Outbox<D>,
) -> UnboundedSender<Command> {
  let (tx, rx) = unbounded_channel();
  let bus = BusLoop {
    target,
    name,
    outbox,
    state: Queues::new(),
    links: None,
    parked: VecDeque::new(),
    held: VecDeque::new(),
    running: FuturesUnordered::new(),
    online: false,
    down_reported: false,
    ping_sent: None,
    next_ping: None,
    closing: false,
  };
  tokio::spawn(bus.run(rx));
  tx
}

struct BusLoop<D: Deliver> {
  target: RedisTarget,
  name: String,
  outbox: Outbox<D>,
  state: Queues,
  links: Option<Links>,
  /// Operations waiting for a connection.
  parked: VecDeque<Op>,
  /// Pops waiting for JavaScript to catch up.
  held: VecDeque<Op>,
  running: FuturesUnordered<Running>,
  online: bool,
  down_reported: bool,
  /// When the unanswered liveness PING was sent.
  ping_sent: Option<Instant>,
  /// When the next liveness PING is due (while online).
  next_ping: Option<Instant>,
  /// `disconnect()` was called: only finish what the user asked for.
  closing: bool,
}

async fn next_of<T>(fut: &mut Option<Pin<Box<dyn Future<Output = T> + Send>>>) -> T {
  match fut {
    Some(f) => f.await,
    None => std::future::pending().await,
  }
}

async fn next_msg(stream: &mut Option<PubSubStream>) -> Option<redis::Msg> {
  match stream {
    Some(s) => s.next().await,
    None => std::future::pending().await,
  }
}

impl<D: Deliver> BusLoop<D> {
  async fn run(mut self, mut rx: UnboundedReceiver<Command>) {
    let mut connecting: Option<Connecting> =
      Some(Box::pin(connect(self.target.clone(), self.name.clone())));
    let mut stream: Option<PubSubStream> = None;
    let mut retry_at: Option<Instant> = None;
    loop {
      let far = Instant::now() + Duration::from_secs(3600);
      let touch = self.state.next_deadline().map(Instant::from_std);
      let ping = self.next_ping.or(self.ping_sent.map(|t| t + PING_TIMEOUT));
      let deadline = [touch, retry_at, ping]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far);
      tokio::select! {
        // Completions first, so operations are first polled (and so sent) in issue order.
        biased;
        Some(done) = self.running.next(), if !self.running.is_empty() => self.completed(done),
        res = next_of(&mut connecting) => {
          connecting = None;
          match res {
            Ok((links, s)) => { stream = Some(s); self.came_online(links); }
            Err(err) => { self.connect_failed(&err); retry_at = Some(Instant::now() + RETRY); }
          }
        }
        msg = next_msg(&mut stream) => match msg {
          Some(msg) => { let actions = self.state.handle_notify(msg.get_channel_name()); self.apply(actions); }
          None => { stream = None; self.went_offline(); retry_at = Some(Instant::now() + RETRY); }
        },
        cmd = rx.recv() => match cmd {
          Some(Command::Batch(batch)) => self.commands(batch),
          Some(Command::Stop) | None => break,
        },
        () = tokio::time::sleep_until(deadline) => {
          if !self.check_alive() {
            // Dropping the stream and the links closes both connections.
            stream = None;
            self.went_offline();
            retry_at = Some(Instant::now());
          }
          if retry_at.is_some_and(|at| at <= Instant::now()) {
            retry_at = None;
            connecting = Some(Box::pin(connect(self.target.clone(), self.name.clone())));
          }
          let actions = self.state.handle_tick(Instant::now().into_std());
          self.apply(actions);
        }
        () = self.outbox.taken(), if self.outbox.has_pending() || !self.held.is_empty() => self.release_held(),
      }
      let pushes = self.state.flush_pushes();
      self.apply(pushes);
      self.outbox.flush();
    }
    self.finish_running().await;
    // Dropping the links and the stream closes both connections.
    self.links = None;
    self.outbox.push::<&[u8]>(event::STOPPED, &[]);
    self.outbox.flush_now();
  }

  /// At `disconnect()`: lets the calls already running finish (at most [`STOP_GRACE`]), with
  /// the pushes and attaches they lead to, so replies and popped messages reach JavaScript.
  async fn finish_running(&mut self) {
    self.closing = true;
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

  /// Sends the liveness PING when due; false when the last one went unanswered too long.
  fn check_alive(&mut self) -> bool {
    let now = Instant::now();
    if let Some(sent) = self.ping_sent {
      return now < sent + PING_TIMEOUT;
    }
    if let (Some(due), Some(links)) = (self.next_ping, &self.links) {
      if now >= due {
        self.ping_sent = Some(now);
        self.next_ping = None;
        self.running.push(Box::pin(ops::ping(links.clone())));
      }
    }
    true
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
    match &self.links {
      // JS is far behind: pops wait, so Redis keeps the messages rather than our memory.
      Some(_) if is_pop && self.outbox.congested() => self.held.push_back(op),
      Some(links) => self.running.push(Box::pin(ops::run(op, links.clone()))),
      None if self.parked.len() < MAX_PARKED => self.parked.push_back(op),
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
      Completion::Pong => {
        self.ping_sent = None;
        self.next_ping = self.links.as_ref().map(|_| Instant::now() + PING_EVERY);
      }
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

  fn came_online(&mut self, links: Links) {
    self.links = Some(links);
    self.online = true;
    self.ping_sent = None;
    self.next_ping = Some(Instant::now() + PING_EVERY);
    self.down_reported = false;
    self.outbox.push::<&[u8]>(event::ONLINE, &[]);
    let actions = self.state.handle_online();
    self.apply(actions);
    for op in std::mem::take(&mut self.parked) {
      self.start(op);
    }
  }

  fn went_offline(&mut self) {
    self.links = None;
    self.ping_sent = None;
    self.next_ping = None;
    if std::mem::take(&mut self.online) {
      self
        .outbox
        .push(event::OFFLINE, &[b"connection to redis lost"]);
    }
  }

  fn connect_failed(&mut self, err: &redis::RedisError) {
    // One error per outage, not one per retry.
    if !std::mem::replace(&mut self.down_reported, true) {
      let f = ops::failure(err);
      self.bus_error(&f.code, &f.message);
    }
  }

  fn bus_error(&mut self, code: &str, message: &str) {
    self
      .outbox
      .push(event::BUS_ERROR, &[code.as_bytes(), message.as_bytes()]);
  }
}

fn connection_info(target: &RedisTarget) -> RedisResult<redis::ConnectionInfo> {
  let mut redis_info = RedisConnectionInfo::default().set_db(target.db);
  if let Some(user) = &target.username {
    redis_info = redis_info.set_username(user);
  }
  if let Some(pass) = &target.password {
    redis_info = redis_info.set_password(pass);
  }
  Ok(
    ConnectionAddr::Tcp(target.host.clone(), target.port)
      .into_connection_info()?
      .set_redis_settings(redis_info),
  )
}

/// Opens the write and the subscribe connections, names the write one as busmq does, checks that
/// the server is a master and loads the scripts.
async fn connect(target: RedisTarget, name: String) -> RedisResult<(Links, PubSubStream)> {
  let attempt = async {
    let client = redis::Client::open(connection_info(&target)?)?;
    let config = redis::AsyncConnectionConfig::new()
      .set_connection_timeout(Some(CONNECT_TIMEOUT))
      .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut write = client
      .get_multiplexed_async_connection_with_config(&config)
      .await?;
    let setname: RedisResult<()> = redis::cmd("CLIENT")
      .arg("SETNAME")
      .arg(format!("{name}:connection:0:write"))
      .query_async(&mut write)
      .await;
    // Some managed Redis services refuse CLIENT SETNAME; the name is only a debugging aid.
    drop(setname);
    let info: String = redis::cmd("INFO")
      .arg("replication")
      .query_async(&mut write)
      .await?;
    if !info.lines().any(|l| l.trim() == "role:master") {
      return Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "redis server is not a master",
      )));
    }
    for script in super::scripts::ALL {
      redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(script)
        .query_async::<String>(&mut write)
        .await?;
    }
    let (sink, stream) = client.get_async_pubsub().await?.split();
    Ok((Links { write, sink }, stream))
  };
  match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
    Ok(result) => result,
    Err(_) => Err(redis::RedisError::from(std::io::Error::new(
      std::io::ErrorKind::TimedOut,
      "timed out connecting to redis",
    ))),
  }
}
