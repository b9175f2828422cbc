//! The part every `#[napi]` engine handle shares: the outbox waiting for `start()`, the
//! command sender to the running loop, and the copy of JS batches into commands.

use super::events::{outbox_for, JsDeliver};
use crate::boundary::outbox::Outbox;
use crate::boundary::Command;
use crate::error::JsError;
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Function};
use std::cell::RefCell;
use tokio::sync::mpsc::UnboundedSender;

/// A handle's link to its event loop. Every method takes `&self` (cells, borrowed only inside one method
/// and never across a call into JS), so JS may call any of them from inside another's delivery.
pub struct Handle {
  outbox: RefCell<Option<Outbox<JsDeliver>>>,
  commands: RefCell<Option<UnboundedSender<Command>>>,
}

impl Handle {
  /// A handle delivering events to `on_events`.
  pub fn new(on_events: Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      outbox: RefCell::new(Some(outbox_for(on_events)?)),
      commands: RefCell::new(None),
    })
  }

  /// Takes the outbox for the loop being started (once per handle).
  pub fn take_outbox(&self) -> Result<Outbox<JsDeliver>, JsError> {
    self
      .outbox
      .borrow_mut()
      .take()
      .ok_or_else(|| JsError::new("EALREADY", "this handle was already started"))
  }

  /// Records the running loop's command channel.
  pub fn started(&self, commands: UnboundedSender<Command>) {
    *self.commands.borrow_mut() = Some(commands);
  }

  /// Copies a JS batch and queues it for the loop. A stopped loop drops it silently:
  /// the facade ignores everything after `stop()` by design.
  pub fn send(&self, batch: &[u8]) {
    // No JS runs in here (the loop is on the runtime thread), so the borrow may span the send.
    if let Some(commands) = &*self.commands.borrow() {
      let _ = commands.send(Command::Batch(Bytes::copy_from_slice(batch)));
      // A reply is likely soon: keep the runtime thread polling instead of parking.
      crate::runtime::activity();
    }
  }

  /// Asks the loop to stop; it answers with a final `E_STOPPED` event.
  pub fn stop(&self) {
    let taken = self.commands.borrow_mut().take();
    if let Some(commands) = taken {
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
