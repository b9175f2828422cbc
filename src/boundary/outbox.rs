//! Rust -> JS delivery of event batches, with flow control.
//!
//! Policy ("deliver when JS is idle"): a batch is handed over at once when JavaScript has
//! nothing of ours in hand, so a lone message costs one wake-up; while JS is busy with a
//! batch, records accumulate and go over together when it finishes. When JS falls behind
//! by more than [`HIGH_WATER_BYTES`], [`Outbox::congested`] turns true and the event loop
//! stops reading its sockets, so backpressure reaches ZeroMQ instead of memory.

use super::batch::BatchWriter;
use futures::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Notify;

/// Pending bytes above which the loop stops reading its sockets.
pub const HIGH_WATER_BYTES: usize = 8 << 20;
/// A batch is closed at this size; a closed batch is handed over even while JS holds one.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// A batch is closed at this many records, so one callback is a bounded amount of JS work (256 handlers
/// of 2 ms each are half a second; of 1 µs, a quarter of a millisecond).
pub const MAX_BATCH_RECORDS: usize = 256;
/// Batches handed to JS but not yet taken by it, above which nothing more is handed over.
const MAX_BATCHES_IN_FLIGHT: usize = 2;
/// A batch JS handled within this many microseconds lets the next one be handed over early.
const QUICK_BATCH_US: u64 = 1000;
/// JS time spent on batches handed over early, back to back, after which the next waits until JS holds
/// none: Node's threadsafe-function dispatch keeps calling JS (up to 1,000 calls) while batches keep
/// arriving, so without this a fast flood held its timers and other I/O for seconds (4-8 s in chaos
/// case 06's drain). With it, Node's loop turns at least every couple of milliseconds.
const RUN_BUDGET_US: u64 = 2000;

/// Where batches go: the napi ThreadsafeFunction in production, a channel in tests.
pub trait Deliver: Send + Sync + 'static {
  /// Hands one batch over. Returns false when the receiving side is gone.
  fn deliver(&self, batch: Vec<u8>) -> bool;
}

/// Shared count of batches in flight; the JS side calls [`Gauge::taken`] per batch.
#[derive(Debug, Default)]
pub struct Gauge {
  in_flight: AtomicUsize,
  /// How long JS took over the last batch, in microseconds: a second batch is handed over while JS holds
  /// one only when batches are quick, so a slow handler gets one batch at a time and Node's event loop
  /// (timers, other I/O) runs between them.
  last_batch_us: AtomicU64,
  /// JS time spent on batches since one was handed over while JS held none (see [`RUN_BUDGET_US`]).
  run_us: AtomicU64,
  notify: Notify,
  /// The loop that polls for [`Outbox::poll_taken`] instead of awaiting [`Outbox::taken`].
  waker: AtomicWaker,
}

impl Gauge {
  /// Called on the JS thread when JavaScript has handled a batch, which took `spent`.
  pub fn handled(&self, spent: std::time::Duration) {
    let us = u64::try_from(spent.as_micros()).unwrap_or(u64::MAX);
    self.last_batch_us.store(us, Ordering::Relaxed);
    self.run_us.fetch_add(us, Ordering::Relaxed);
    self.taken();
  }

  /// Whether another batch may be handed over while JS holds one: the last was quick, and the batches
  /// handled back to back have not used up the run budget.
  fn quick(&self) -> bool {
    self.last_batch_us.load(Ordering::Relaxed) < QUICK_BATCH_US
      && self.run_us.load(Ordering::Relaxed) < RUN_BUDGET_US
  }

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

/// Accumulates event records and delivers them in batches of at most [`MAX_BATCH_RECORDS`] records.
pub struct Outbox<D: Deliver> {
  deliver: D,
  writer: BatchWriter,
  /// Full batches waiting for JS, oldest first.
  sealed: VecDeque<Vec<u8>>,
  sealed_bytes: usize,
  gauge: Arc<Gauge>,
  closed: bool,
}

impl<D: Deliver> Outbox<D> {
  /// An outbox over `deliver`, sharing `gauge` with the JS-side callback.
  pub fn new(deliver: D, gauge: Arc<Gauge>) -> Self {
    Self {
      deliver,
      writer: BatchWriter::with_capacity(4096),
      sealed: VecDeque::new(),
      sealed_bytes: 0,
      gauge,
      closed: false,
    }
  }

  /// Appends one record.
  pub fn push<F: AsRef<[u8]>>(&mut self, kind: u8, frames: &[F]) {
    self.writer.push(kind, frames);
    self.seal_if_full();
  }

  /// Appends one record from an iterator of frames.
  pub fn push_iter<'a, I: IntoIterator<Item = &'a [u8]>>(
    &mut self,
    kind: u8,
    count: u16,
    frames: I,
  ) {
    self.writer.push_iter(kind, count, frames);
    self.seal_if_full();
  }

  /// A batch is closed at [`MAX_BATCH_RECORDS`] records or [`MAX_BATCH_BYTES`], so one JS callback never
  /// holds the thread for long: between batches Node runs its timers and other I/O.
  fn seal_if_full(&mut self) {
    if self.writer.records() >= MAX_BATCH_RECORDS || self.writer.len() >= MAX_BATCH_BYTES {
      let batch = self.writer.take();
      self.sealed_bytes += batch.len();
      self.sealed.push_back(batch);
    }
  }

  /// Delivers the next batch if JS is idle, or if a full one waits and JS holds only one.
  /// Call once per event-loop turn, after draining what was ready. True when a batch went.
  pub fn flush(&mut self) -> bool {
    if !self.has_pending() {
      return false;
    }
    let in_flight = self.gauge.in_flight();
    let pipelined = in_flight < MAX_BATCHES_IN_FLIGHT && self.gauge.quick();
    if in_flight == 0 || (!self.sealed.is_empty() && pipelined) {
      return self.deliver_next();
    }
    false
  }

  /// Delivers everything pending regardless of JS being busy (used at stop).
  pub fn flush_now(&mut self) {
    while self.has_pending() {
      self.deliver_next();
    }
  }

  fn deliver_next(&mut self) -> bool {
    let batch = match self.sealed.pop_front() {
      Some(b) => {
        self.sealed_bytes -= b.len();
        b
      }
      None => self.writer.take(),
    };
    // Handed over while JS holds nothing of ours: its event loop got its turn since the last one.
    if self.gauge.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
      self.gauge.run_us.store(0, Ordering::Relaxed);
    }
    if !self.deliver.deliver(batch) {
      self.closed = true;
      return false;
    }
    true
  }

  /// True while records wait for JS to finish a batch (the loop should `await` [`Self::taken`]).
  pub fn has_pending(&self) -> bool {
    (!self.writer.is_empty() || !self.sealed.is_empty()) && !self.closed
  }

  /// True when JS is so far behind that the loop must stop reading its sockets.
  pub fn congested(&self) -> bool {
    self.writer.len() + self.sealed_bytes >= HIGH_WATER_BYTES && !self.closed
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

  /// Pushes records until one more batch is sealed.
  fn seal_one(outbox: &mut Outbox<Collect>) {
    for _ in 0..MAX_BATCH_RECORDS {
      outbox.push(0, &[b"m"]);
    }
  }

  #[test]
  fn quick_batches_go_early_only_until_the_run_budget_is_used() {
    let sink = Collect::default();
    let gauge = Arc::new(Gauge::default());
    let mut outbox = Outbox::new(sink.clone(), gauge.clone());
    let delivered = || sink.0.lock().unwrap().len();
    let quick = std::time::Duration::from_micros(600);
    seal_one(&mut outbox);
    assert!(outbox.flush(), "JS idle: the first goes at once");
    // JS keeps one in hand and handles each in 600 us: early hand-overs while under 2 ms in all.
    for n in 2..=4 {
      seal_one(&mut outbox);
      assert!(outbox.flush(), "batch {n} goes early");
      gauge.handled(quick);
    }
    assert_eq!(delivered(), 4);
    // 1.8 ms used; one more quick batch passes the budget: the next waits until JS holds none.
    seal_one(&mut outbox);
    assert!(outbox.flush());
    gauge.handled(quick);
    seal_one(&mut outbox);
    assert!(!outbox.flush(), "budget used: wait for JS to hold none");
    gauge.handled(quick);
    assert!(outbox.flush(), "JS held none: a new run starts");
    seal_one(&mut outbox);
    assert!(outbox.flush(), "the new run may hand over early again");
    assert_eq!(delivered(), 7);
  }
}
