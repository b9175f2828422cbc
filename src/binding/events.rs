//! The Rust -> JS event channel of every engine handle: a ThreadsafeFunction that receives
//! one packed Buffer per batch (see `crate::boundary`).
//!
//! The function is *weak* (unref'd): it never keeps Node alive by itself. The JS facade holds
//! a ref'd keep-alive while an engine is started and drops it at `stop()`, so a process with
//! nothing left to do exits, and a forgotten TSFN can never hang it.

use crate::boundary::outbox::{Deliver, Gauge, Outbox};
use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use std::sync::Arc;

type EventFn = ThreadsafeFunction<Vec<u8>, (), Buffer, Status, false, true, 0>;

/// Delivers batches into a JS callback `(batch: Buffer) => void`.
pub struct JsDeliver {
  tsfn: EventFn,
}

impl Deliver for JsDeliver {
  fn deliver(&self, batch: Vec<u8>) -> bool {
    // NonBlocking: the queue is unbounded (MaxQueueSize 0) and the outbox already limits
    // batches in flight, so this never waits on the JS thread.
    self.tsfn.call(batch, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
  }
}

/// Builds an outbox that delivers into `callback`.
///
/// # Errors
/// Fails when napi cannot create the threadsafe function (environment shutting down).
pub fn outbox_for(callback: Function<Buffer, ()>) -> napi::Result<Outbox<JsDeliver>> {
  let gauge = Arc::new(Gauge::default());
  let taken = gauge.clone();
  let tsfn = callback
    .build_threadsafe_function::<Vec<u8>>()
    .callee_handled::<false>()
    .weak::<true>()
    .build_callback(move |ctx| {
      // Runs on the JS thread right before the JS callback: the batch is now JS's.
      taken.taken();
      Ok(Buffer::from(ctx.value))
    })?;
  Ok(Outbox::new(JsDeliver { tsfn }, gauge))
}
