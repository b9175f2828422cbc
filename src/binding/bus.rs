//! `#[napi] NodeHandle`: the native side of a zmqbus node (`lib/bus.js`). It
//! validates options, starts the node's event loop with an outbox that batches
//! events for JavaScript, and queues packed command batches. The protocol lives
//! in `crate::bus`.
//!
//! The node's loop (discovery, election, data path) runs as a task on the libuv
//! loop of the JS thread that made it, delivering synchronously (issue: the
//! thread model); its forwarder, which serves every node of the cluster, runs on
//! our runtime thread. `ZMQBUS_THREAD=runtime` runs the whole node there.

use std::future::Future;

use super::events::{outbox_for, JsDeliver};
use super::local::{self, local_mode, this_loop, LocalDeliver};
use crate::boundary::outbox::Outbox;
use crate::bus::eventloop::open_node;
use crate::bus::{spawn_node_with, BusError, NodeCommand, NodeOptions, OptionsError, OutboxSink};
use crate::error::JsError;
use crate::uvloop::io::UvReactor;
use crate::uvloop::task::{Entry, Task};
use crate::uvloop::LoopRef;
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Function};
use napi::Env;
use napi_derive::napi;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

/// Where the node's events go until it starts.
enum Unstarted {
  /// Through the runtime thread's threadsafe function.
  Runtime(Outbox<JsDeliver>),
  /// Synchronously, on this JS thread's loop.
  Local(LoopRef, Outbox<LocalDeliver>),
}

/// A started node's loop: on the runtime thread, or a task on this thread's loop.
enum Running {
  Runtime,
  Local(Task),
}

fn options_from(json: &str) -> Result<NodeOptions, JsError> {
  let value: serde_json::Value = serde_json::from_str(json)
    .map_err(|e| JsError::new("ERR_INVALID_ARG_TYPE", format!("options are not JSON: {e}")))?;
  NodeOptions::from_json(&value).map_err(|e: OptionsError| JsError::new(e.code(), e.to_string()))
}

fn start_error(err: BusError) -> JsError {
  let code = match &err {
    BusError::Io(io) => match io.kind() {
      std::io::ErrorKind::AddrInUse => "EADDRINUSE",
      std::io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
      std::io::ErrorKind::InvalidInput => "EINVAL",
      std::io::ErrorKind::PermissionDenied => "EACCES",
      std::io::ErrorKind::NetworkUnreachable => "ENETUNREACH",
      _ => "EIO",
    },
    BusError::NoRuntime | BusError::Link(_) => "EIO",
  };
  JsError::new(code, err.to_string())
}

/// Checks `createNode` options (JSON) without starting anything. Throws an
/// error whose `code` is `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or
/// `ERR_OUT_OF_RANGE`, and whose message names the option and its value.
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn bus_check_options(options: String) -> napi::Result<(), String> {
  options_from(&options)?;
  Ok(())
}

/// Native side of a zmqbus node: discovery, election, forwarder and data
/// path all run in Rust; events arrive in `onEvents` as packed batches.
#[napi]
pub struct NodeHandle {
  unstarted: Option<Unstarted>,
  running: Option<Running>,
  commands: Option<UnboundedSender<NodeCommand>>,
  forwarder_stats: Option<crate::bus::forwarder::StatsCell>,
}

#[napi]
impl NodeHandle {
  /// `onEvents(batch)` receives packed event records (see lib/bus.js).
  #[napi(constructor)]
  pub fn new(env: Env, on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    let unstarted = if local_mode() {
      Unstarted::Local(this_loop(&env)?, local::outbox_for(env.raw(), &on_events)?)
    } else {
      Unstarted::Runtime(outbox_for(on_events)?)
    };
    Ok(Self {
      unstarted: Some(unstarted),
      running: None,
      commands: None,
      forwarder_stats: None,
    })
  }

  /// Validates `options` (JSON), binds the node's sockets and starts it.
  /// Returns `[id, subAddr, pubAddr]`, what the node advertises.
  #[napi]
  pub fn start(&mut self, options: String) -> napi::Result<Vec<String>, String> {
    let opts = options_from(&options)?;
    let unstarted = self
      .unstarted
      .take()
      .ok_or_else(|| JsError::new("EALREADY", "this node was already started"))?;
    let (node, running) = match unstarted {
      Unstarted::Runtime(outbox) => {
        // Sockets are registered with the runtime's reactor: spawn inside it.
        let _guard = crate::runtime::handle().enter();
        let node = spawn_node_with(opts, OutboxSink::new(outbox)).map_err(start_error)?;
        (node, Running::Runtime)
      }
      Unstarted::Local(lp, outbox) => {
        let reactor = UvReactor::new(lp).map_err(|e| JsError::new("ENOTSUP", e.to_string()))?;
        let (node, run) = {
          // The forwarder registers with the runtime's reactor and stays on its thread.
          let _guard = crate::runtime::handle().enter();
          open_node(opts, OutboxSink::new(outbox), reactor).map_err(start_error)?
        };
        let task = spawn_local(lp, run)?;
        (node, Running::Local(task))
      }
    };
    self.running = Some(running);
    self.commands = Some(node.commands);
    self.forwarder_stats = Some(node.forwarder_stats);
    Ok(vec![node.meta.id, node.meta.sub_addr, node.meta.pub_addr])
  }

  /// Queues a packed batch of commands (copied before this returns).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    let Some(commands) = &self.commands else {
      return;
    };
    if let Some(Running::Local(_)) = self.running {
      // The loop runs when this call returns (or, from one of its deliveries, when that returns).
      let _entry = Entry::enter();
      let _ = commands.send(NodeCommand::Batch(Bytes::copy_from_slice(batch)));
    } else {
      let _ = commands.send(NodeCommand::Batch(Bytes::copy_from_slice(batch)));
      crate::runtime::activity();
    }
  }

  /// Counters as JSON: `{ forwarder: { sub, pub, droppedFull } }`, each side with its connections and
  /// refusals by reason (refreshed every 100 ms).
  #[napi]
  pub fn stats(&self) -> String {
    let forwarder = (self.forwarder_stats.as_ref())
      .and_then(|cell| cell.lock().ok().map(|s| s.to_json()))
      .unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "forwarder": forwarder }).to_string()
  }

  /// Stops the node; a final `stopped` record follows.
  #[napi]
  pub fn stop(&mut self) {
    if let Some(commands) = self.commands.take() {
      // Nobody waits for the answer: the loop's last event says it.
      let (ack, _) = oneshot::channel();
      let _entry = Entry::enter();
      let _ = commands.send(NodeCommand::Stop(ack));
    }
  }
}

/// Runs a node's loop as a task on `lp` (this thread's); its first turn comes from the loop.
fn spawn_local(lp: LoopRef, run: impl Future<Output = ()> + 'static) -> Result<Task, JsError> {
  let mut run = Box::pin(run);
  Task::spawn(lp, Box::new(move |cx| run.as_mut().poll(cx)))
    .map_err(|e| JsError::new("ENOTSUP", e.to_string()))
}

impl Drop for NodeHandle {
  fn drop(&mut self) {
    match self.running.take() {
      // Garbage-collected (or its env torn down) while its task lives: end it without calling JS, as
      // this may run in a finalizer; its forwarder stops with it.
      Some(Running::Local(task)) => task.cancel(),
      // A handle garbage-collected without stop() must not leave its node running.
      _ => self.stop(),
    }
  }
}
