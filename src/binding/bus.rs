//! `#[napi] NodeHandle`: the native side of a zmqbus node (`lib/bus.js`). It
//! validates options, starts the node's event loop on the runtime thread with
//! an outbox that batches events for JavaScript, and queues packed command
//! batches. The protocol lives in `crate::bus`.

use super::events::{outbox_for, JsDeliver};
use crate::boundary::outbox::Outbox;
use crate::bus::{spawn_node_with, BusError, NodeCommand, NodeOptions, OptionsError, OutboxSink};
use crate::error::JsError;
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Function};
use napi_derive::napi;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

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
  outbox: Option<Outbox<JsDeliver>>,
  commands: Option<UnboundedSender<NodeCommand>>,
  forwarder_stats: Option<crate::bus::forwarder::StatsCell>,
}

#[napi]
impl NodeHandle {
  /// `onEvents(batch)` receives packed event records (see lib/bus.js).
  #[napi(constructor)]
  pub fn new(on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      outbox: Some(outbox_for(on_events)?),
      commands: None,
      forwarder_stats: None,
    })
  }

  /// Validates `options` (JSON), binds the node's sockets and starts it.
  /// Returns `[id, subAddr, pubAddr]`, what the node advertises.
  #[napi]
  pub fn start(&mut self, options: String) -> napi::Result<Vec<String>, String> {
    let opts = options_from(&options)?;
    let outbox = self
      .outbox
      .take()
      .ok_or_else(|| JsError::new("EALREADY", "this node was already started"))?;
    // Sockets are registered with the runtime's reactor: spawn inside it.
    let _guard = crate::runtime::handle().enter();
    let node = spawn_node_with(opts, OutboxSink::new(outbox)).map_err(start_error)?;
    self.commands = Some(node.commands);
    self.forwarder_stats = Some(node.forwarder_stats);
    Ok(vec![node.meta.id, node.meta.sub_addr, node.meta.pub_addr])
  }

  /// Queues a packed batch of commands (copied before this returns).
  #[napi]
  pub fn send(&self, batch: &[u8]) {
    if let Some(commands) = &self.commands {
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
      let _ = commands.send(NodeCommand::Stop(ack));
    }
  }
}

impl Drop for NodeHandle {
  fn drop(&mut self) {
    // A handle garbage-collected without stop() must not leave its node running.
    self.stop();
  }
}
