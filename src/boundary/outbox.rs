//! Rust -> JS delivery of event batches, with flow control.
//!
//! Policy ("deliver when JS is idle"): a batch is handed over at once when JavaScript has
//! nothing of ours in hand, so a lone message costs one wake-up; while JS is busy with a
//! batch, records accumulate and go over together when it finishes. When JS falls behind
//! by more than [`HIGH_WATER_BYTES`], [`Outbox::congested`] turns true and the event loop
//! stops reading its sockets, so backpressure reaches ZeroMQ instead of memory.

use super::batch::BatchWriter;
use futures::task::AtomicWaker;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Notify;

/// Pending bytes above which the loop stops reading its sockets.
pub const HIGH_WATER_BYTES: usize = 8 << 20;
/// A batch is handed over even while JS is busy once it reaches this size, so one
/// callback never carries more than a few milliseconds of JS work.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// Batches handed to JS but not yet taken by it, above which nothing more is handed over.
const MAX_BATCHES_IN_FLIGHT: usize = 2;

/// Where batches go: the napi ThreadsafeFunction in production, a channel in tests.
pub trait Deliver: Send + Sync + 'static {
  /// Hands one batch over. Returns false when the receiving side is gone.
  fn deliver(&self, batch: Vec<u8>) -> bool;
}

/// Shared count of batches in flight; the JS side calls [`Gauge::taken`] per batch.
#[derive(Debug, Default)]
pub struct Gauge {
  in_flight: AtomicUsize,
  notify: Notify,
  /// The loop that polls for [`Outbox::poll_taken`] instead of awaiting [`Outbox::taken`].
  waker: AtomicWaker,
}

impl Gauge {
  /// Called on the JS thread when a batch has been taken by JavaScript.
  pub fn taken(&self) {
    // Saturating: a stray extra call must not wrap the counter and wedge delivery.
    let _ = self
      .in_flight
      .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        Some(n.saturating_sub(1))
      });
    self.notify.notify_one();
    self.waker.wake();
  }

  fn in_flight(&self) -> usize {
    self.in_flight.load(Ordering::Acquire)
  }
}

/// Accumulates event records and delivers them in batches.
pub struct Outbox<D: Deliver> {
  deliver: D,
  writer: BatchWriter,
  gauge: Arc<Gauge>,
  closed: bool,
}

impl<D: Deliver> Outbox<D> {
  /// An outbox over `deliver`, sharing `gauge` with the JS-side callback.
  pub fn new(deliver: D, gauge: Arc<Gauge>) -> Self {
    Self {
      deliver,
      writer: BatchWriter::with_capacity(4096),
      gauge,
      closed: false,
    }
  }

  /// Appends one record.
  pub fn push<F: AsRef<[u8]>>(&mut self, kind: u8, frames: &[F]) {
    self.writer.push(kind, frames);
  }

  /// Appends one record from an iterator of frames.
  pub fn push_iter<'a, I: IntoIterator<Item = &'a [u8]>>(
    &mut self,
    kind: u8,
    count: u16,
    frames: I,
  ) {
    self.writer.push_iter(kind, count, frames);
  }

  /// Delivers what is pending if JS is idle or the batch is already large.
  /// Call once per event-loop turn, after draining what was ready.
  pub fn flush(&mut self) {
    if self.writer.is_empty() || self.closed {
      return;
    }
    let in_flight = self.gauge.in_flight();
    if in_flight == 0 || (self.writer.len() >= MAX_BATCH_BYTES && in_flight < MAX_BATCHES_IN_FLIGHT)
    {
      self.flush_now();
    }
  }

  /// Delivers what is pending regardless of JS being busy (used at stop).
  pub fn flush_now(&mut self) {
    if self.writer.is_empty() || self.closed {
      return;
    }
    self.gauge.in_flight.fetch_add(1, Ordering::AcqRel);
    if !self.deliver.deliver(self.writer.take()) {
      self.closed = true;
    }
  }

  /// True while records wait for JS to finish a batch (the loop should `await` [`Self::taken`]).
  pub fn has_pending(&self) -> bool {
    !self.writer.is_empty() && !self.closed
  }

  /// True when JS is so far behind that the loop must stop reading its sockets.
  pub fn congested(&self) -> bool {
    self.writer.len() >= HIGH_WATER_BYTES && !self.closed
  }

  /// True once the JS side is gone.
  pub fn is_closed(&self) -> bool {
    self.closed
  }

  /// `Ready` when JS has no batch of ours in hand (registers `cx` to hear when it takes one).
  pub fn poll_taken(&self, cx: &mut Context<'_>) -> Poll<()> {
    if self.gauge.in_flight() == 0 {
      return Poll::Ready(());
    }
    self.gauge.waker.register(cx.waker());
    // Taken between the check and the registration: the wake-up was missed, so look again.
    if self.gauge.in_flight() == 0 {
      Poll::Ready(())
    } else {
      Poll::Pending
    }
  }

  /// Resolves when JS has taken a batch (cancel-safe).
  pub async fn taken(&self) {
    if self.gauge.in_flight() == 0 {
      return;
    }
    self.gauge.notify.notified().await;
  }
}

#[cfg(test)]
pub(crate) mod tests {
  use super::*;
  use crate::boundary::batch::Records;
  use bytes::Bytes;
  use std::sync::Mutex;

  /// Test delivery: collects batches in memory.
  #[derive(Clone, Default)]
  pub(crate) struct Collect(pub Arc<Mutex<Vec<Vec<u8>>>>);

  impl Deliver for Collect {
    fn deliver(&self, batch: Vec<u8>) -> bool {
      self.0.lock().map(|mut v| v.push(batch)).is_ok()
    }
  }

  #[test]
  fn first_record_goes_at_once_then_accumulates_until_js_takes_it() {
    let sink = Collect::default();
    let gauge = Arc::new(Gauge::default());
    let mut outbox = Outbox::new(sink.clone(), gauge.clone());
    outbox.push(1, &[b"a"]);
    outbox.flush();
    outbox.push(1, &[b"b"]);
    outbox.push(1, &[b"c"]);
    outbox.flush();
    assert_eq!(sink.0.lock().unwrap().len(), 1, "JS busy: b and c wait");
    assert!(outbox.has_pending());
    gauge.taken();
    outbox.flush();
    let batches = sink.0.lock().unwrap().clone();
    assert_eq!(batches.len(), 2);
    let second: Vec<_> = Records::new(Bytes::from(batches[1].clone()))
      .map(|r| r.unwrap().frames[0].clone())
      .collect();
    assert_eq!(
      second,
      vec![Bytes::from_static(b"b"), Bytes::from_static(b"c")]
    );
  }

  #[test]
  fn congestion_starts_at_high_water() {
    let gauge = Arc::new(Gauge::default());
    let mut outbox = Outbox::new(Collect::default(), gauge);
    outbox.push(0, &[b"x"]);
    outbox.flush();
    let big = vec![0u8; 1 << 20];
    for _ in 0..8 {
      assert!(!outbox.congested());
      outbox.push(0, &[&big]);
    }
    assert!(outbox.congested());
  }

  #[test]
  fn extra_taken_calls_never_wrap_the_counter() {
    let gauge = Arc::new(Gauge::default());
    gauge.taken();
    gauge.taken();
    assert_eq!(gauge.in_flight(), 0);
  }
}
