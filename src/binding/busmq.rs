//! `#[napi] BusmqHandle`: the native side of a busmq bus (`lib/busmq/bus.js`). It parses the
//! url, starts the bus's loop on the runtime thread and, where it applies (one plain `redis://`
//! url, direct layout, JS-thread mode), the bus's fast lane on this JS thread's own loop
//! (`crate::busmq::lane`): pushes handed to `pushFast` and the consumers' blocking pops run
//! there, and their events reach JS synchronously. The protocol lives in `crate::busmq`.

use super::handle::Handle;
use super::local::{local_mode, outbox_for, this_loop, LocalDeliver};
use crate::boundary::outbox::Outbox;
use crate::busmq::codec::kinds_json;
use crate::busmq::eventloop;
use crate::busmq::keys::{Endpoint, RedisTarget};
use crate::busmq::lane::{Lane, LaneCommand};
use crate::busmq::tls::TlsSettings;
use crate::error::JsError;
use crate::uvloop::io::UvReactor;
use crate::uvloop::task::{Entry, Task};
use crate::uvloop::LoopRef;
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Either, Function};
use napi::Env;
use napi_derive::napi;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// The record kinds of the busmq handle, as JSON (read once by `lib/busmq/kinds.js`).
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn busmq_kinds() -> String {
  kinds_json()
}

/// How a bus reaches Redis (`Bus.create({ layout, redisOptions })`).
#[napi(object)]
pub struct BusmqLayout {
  /// `direct` (the urls are masters), `sentinels` (the urls are sentinels) or `cluster` (the
  /// urls are nodes of a Redis Cluster).
  pub kind: String,
  /// Sentinels: the monitored master's name (`redisOptions.name`).
  pub master_name: Option<String>,
  /// Sentinels: the master's password (`redisOptions.password`).
  pub password: Option<String>,
  /// Sentinels: the master's database (`redisOptions.db`).
  pub db: Option<u32>,
  /// TLS for every url, `rediss://` or not (`redisOptions.tls`, or a client's TLS options).
  /// Direct layout only.
  pub tls: Option<BusmqTls>,
}

/// TLS settings (the names of Node's `tls.connect` options).
#[napi(object)]
pub struct BusmqTls {
  /// PEM certificates of the CAs to trust instead of the system's.
  pub ca: Option<String>,
  /// PEM client certificate chain.
  pub cert: Option<String>,
  /// PEM private key of `cert`.
  pub key: Option<String>,
  /// `false` accepts any server certificate (default `true`).
  pub reject_unauthorized: Option<bool>,
}

impl From<&BusmqTls> for TlsSettings {
  fn from(t: &BusmqTls) -> Self {
    Self {
      ca: t.ca.clone(),
      cert: t.cert.clone(),
      key: t.key.clone(),
      insecure: t.reject_unauthorized == Some(false),
    }
  }
}

fn target(url: &str, default_port: u16, layout: &BusmqLayout) -> Result<RedisTarget, JsError> {
  let mut target =
    RedisTarget::parse_with_port(url, default_port).map_err(|e| JsError::invalid(e.to_string()))?;
  if let Some(tls) = &layout.tls {
    target.tls = Some(tls.into());
  }
  if target.tls.is_some() && layout.kind != "direct" {
    return Err(JsError::new(
      "ENOTSUP",
      format!("TLS with layout '{}' is not supported yet", layout.kind),
    ));
  }
  Ok(target)
}

fn endpoints(urls: &[String], layout: &BusmqLayout) -> Result<Vec<Endpoint>, JsError> {
  if urls.is_empty() {
    return Err(JsError::invalid("no redis url"));
  }
  match layout.kind.as_str() {
    "direct" => urls
      .iter()
      .map(|u| target(u, 6379, layout).map(Endpoint::Direct))
      .collect(),
    // busmq 3.1's ioredis driver assumes 26379 for cluster urls without a port too.
    "cluster" => Ok(vec![Endpoint::Cluster {
      nodes: urls
        .iter()
        .map(|u| target(u, 26379, layout))
        .collect::<Result<_, _>>()?,
    }]),
    "sentinels" => Ok(vec![Endpoint::Sentinels {
      sentinels: urls
        .iter()
        .map(|u| target(u, 26379, layout))
        .collect::<Result<_, _>>()?,
      master: layout
        .master_name
        .clone()
        .unwrap_or_else(|| "mymaster".to_string()),
      password: layout.password.clone(),
      db: i64::from(layout.db.unwrap_or(0)),
    }]),
    other => Err(JsError::new(
      "ENOTSUP",
      format!("unsupported connection layout: {other}"),
    )),
  }
}

/// The fast lane's parts: its loop and outbox until `start`, then its task and its queue.
struct LaneLink {
  lp: LoopRef,
  outbox: Option<Outbox<LocalDeliver>>,
  tx: Option<UnboundedSender<LaneCommand>>,
  ready: Rc<Cell<bool>>,
  task: Option<Task>,
}

impl LaneLink {
  /// Starts the lane to `target` when the bus has one plain url; returns its queue.
  fn start(&mut self, endpoints: &[Endpoint]) -> Option<UnboundedSender<LaneCommand>> {
    let [Endpoint::Direct(target)] = endpoints else {
      return None;
    };
    if target.tls.is_some() {
      return None;
    }
    let reactor = UvReactor::new(self.lp).ok()?;
    let outbox = self.outbox.take()?;
    let (tx, rx) = unbounded_channel();
    let mut lane = Lane::new(reactor, target.clone(), outbox, rx, self.ready.clone());
    let task = Task::spawn(self.lp, Box::new(move |cx| lane.poll(cx))).ok()?;
    self.task = Some(task);
    self.tx = Some(tx.clone());
    Some(tx)
  }
}

/// Native side of a busmq bus: a Redis connection pair per url and every queue object of the bus.
#[napi]
pub struct BusmqHandle {
  handle: Handle,
  /// `None` in runtime-thread mode (`ZMQBUS_THREAD=runtime`) or without libuv.
  lane: RefCell<Option<LaneLink>>,
}

#[napi]
impl BusmqHandle {
  /// `onEvents(batch)` receives packed event records (see lib/busmq/bus.js).
  #[napi(constructor)]
  pub fn new(env: Env, on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    let lane = if local_mode() {
      Some(LaneLink {
        lp: this_loop(&env)?,
        outbox: Some(outbox_for(env.raw(), &on_events)?),
        tx: None,
        ready: Rc::new(Cell::new(false)),
        task: None,
      })
    } else {
      None
    };
    Ok(Self {
      handle: Handle::new(on_events)?,
      lane: RefCell::new(lane),
    })
  }

  /// Connects as client `name` and starts the loop. With `layout` `direct`, to every url of
  /// `urls` (`redis://[pass@]host[:port][/db]`, one connection pair each; a queue lives on one
  /// of them, chosen as busmq chooses). With `sentinels`, `urls` are sentinels (port 26379 by
  /// default) that name the master `masterName` (`mymaster` when absent), whose password and
  /// database are `password` and `db`. With `cluster`, `urls` are seed nodes of a Redis
  /// Cluster, and queue keys are hash-tagged (`{bus:queue:<name>}:...`) as busmq does.
  /// `rediss://` urls, or `layout.tls`, connect with TLS (direct layout). Throws `EINVAL` for a
  /// url it cannot use or an empty list, and `ENOTSUP` for TLS with sentinels or a cluster, or
  /// another layout. Returns true when the bus has a fast lane (see `pushFast`).
  #[napi]
  pub fn start(
    &self,
    urls: Vec<String>,
    name: String,
    layout: BusmqLayout,
  ) -> napi::Result<bool, String> {
    let endpoints = endpoints(&urls, &layout)?;
    let outbox = self.handle.take_outbox()?;
    let lane = self
      .lane
      .borrow_mut()
      .as_mut()
      .and_then(|l| l.start(&endpoints));
    let fast = lane.is_some();
    // `ZMQBUS_BUSMQ_LANE=push` (a benchmark's knob): blocking pops stay on the runtime thread.
    let lane = lane.filter(|_| std::env::var("ZMQBUS_BUSMQ_LANE").map_or(true, |v| v != "push"));
    // The loop's sockets register with the runtime's reactor: spawn inside it.
    let _guard = crate::runtime::handle().enter();
    let commands = eventloop::spawn(endpoints, name, outbox, lane);
    self.handle.started(commands);
    Ok(fast)
  }

  /// Hands a push of queue `name` (object `qid`, callback `rid`) to the fast lane, which sends
  /// it before this returns (or, inside one of its own deliveries, when that returns). False
  /// when the lane does not take it now (none, not connected, stopped): the caller sends it
  /// the other way.
  #[napi]
  #[allow(clippy::too_many_arguments)]
  pub fn push_fast(
    &self,
    qid: u32,
    name: String,
    ttl: u32,
    maxsize: u32,
    rid: u32,
    payload: Either<String, Buffer>,
  ) -> bool {
    let tx = match &*self.lane.borrow() {
      Some(LaneLink {
        tx: Some(tx),
        ready,
        ..
      }) if ready.get() => tx.clone(),
      _ => return false,
    };
    let payload = match payload {
      Either::A(s) => Bytes::from(s.into_bytes()),
      Either::B(b) => Bytes::copy_from_slice(&b),
    };
    // The lane runs when this entry ends, after the borrow above is gone.
    let _entry = Entry::enter();
    tx.send(LaneCommand::Push {
      qid,
      name,
      ttl,
      maxsize: u64::from(maxsize),
      rid,
      payload,
    })
    .is_ok()
  }

  /// Queues a packed batch of commands (copied before this returns).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    self.handle.send(batch);
  }

  /// Consumer `qid` was stopped (`halted`), or consumes again: the fast lane's blocking pops
  /// for it stop at once rather than when the loop hears of the stop.
  #[napi]
  pub fn halt_consumer(&self, qid: u32, halted: bool) {
    let tx = match &*self.lane.borrow() {
      Some(LaneLink { tx: Some(tx), .. }) => tx.clone(),
      _ => return,
    };
    let _entry = Entry::enter();
    let _ = tx.send(LaneCommand::Halt { qid, on: halted });
  }

  /// Closes the connections; a final `STOPPED` record follows. The lane finishes what it has
  /// in flight, then ends.
  #[napi]
  pub fn stop(&self) {
    self.handle.stop();
    let tx = self.lane.borrow_mut().as_mut().and_then(|l| l.tx.take());
    if let Some(tx) = tx {
      let _entry = Entry::enter();
      let _ = tx.send(LaneCommand::Stop);
    }
  }
}

impl Drop for BusmqHandle {
  fn drop(&mut self) {
    // Garbage-collected: end the lane's task without calling JS (this may run in a finalizer).
    if let Some(task) = self.lane.get_mut().as_mut().and_then(|l| l.task.take()) {
      task.cancel();
    }
  }
}
