//! The part every `#[napi]` engine handle shares: the outbox waiting for `start()`, the
//! command sender to the running loop, and the copy of JS batches into commands.

use super::events::{outbox_for, JsDeliver};
use crate::boundary::outbox::Outbox;
use crate::boundary::Command;
use crate::error::JsError;
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Function};
use tokio::sync::mpsc::UnboundedSender;

/// A handle's link to its event loop.
pub struct Handle {
  outbox: Option<Outbox<JsDeliver>>,
  commands: Option<UnboundedSender<Command>>,
}

impl Handle {
  /// A handle delivering events to `on_events`.
  pub fn new(on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      outbox: Some(outbox_for(on_events)?),
      commands: None,
    })
  }

  /// Takes the outbox for the loop being started (once per handle).
  pub fn take_outbox(&mut self) -> Result<Outbox<JsDeliver>, JsError> {
    self
      .outbox
      .take()
      .ok_or_else(|| JsError::new("EALREADY", "this handle was already started"))
  }

  /// Records the running loop's command channel.
  pub fn started(&mut self, commands: UnboundedSender<Command>) {
    self.commands = Some(commands);
  }

  /// Copies a JS batch and queues it for the loop. A stopped loop drops it silently:
  /// the facade ignores everything after `stop()` by design.
  pub fn send(&self, batch: &[u8]) {
    if let Some(commands) = &self.commands {
      let _ = commands.send(Command::Batch(Bytes::copy_from_slice(batch)));
      // A reply is likely soon: keep the runtime thread polling instead of parking.
      crate::runtime::activity();
    }
  }

  /// Asks the loop to stop; it answers with a final `E_STOPPED` event.
  pub fn stop(&mut self) {
    if let Some(commands) = self.commands.take() {
      let _ = commands.send(Command::Stop);
    }
  }
}

impl Drop for Handle {
  fn drop(&mut self) {
    // A handle garbage-collected without stop() must not leave its loop running.
    self.stop();
  }
}
