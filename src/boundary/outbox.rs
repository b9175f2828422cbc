//! Rust -> JS delivery of event batches, with flow control.
//!
//! Policy ("deliver when JS is idle"): a batch is handed over at once when JavaScript has
//! nothing of ours in hand, so a lone message costs one wake-up; while JS is busy with a
//! batch, records accumulate and go over together when it finishes. When JS falls behind
//! by more than [`HIGH_WATER_BYTES`], [`Outbox::congested`] turns true and the event loop
//! stops reading its sockets, so backpressure reaches ZeroMQ instead of memory.

use super::batch::{records_end, BatchWriter};
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
/// Records in the first batch, before JS has shown what a record costs it: a 2 ms handler then holds the
/// loop for 32 ms, not half a second, and quick handlers get full batches from the second one on.
pub const FIRST_BATCH_RECORDS: usize = 16;
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

  /// True when `deliver` runs the JS handlers before it returns (on their own thread): the loop filling
  /// the outbox cannot run while they do.
  fn inline(&self) -> bool {
    false
  }
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
  /// Records in the batch last handed over: with `last_batch_us`, what one record costs JS.
  last_records: AtomicUsize,
  /// JS has handled a batch: `last_batch_us` is a measurement, not the default.
  measured: std::sync::atomic::AtomicBool,
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
    self.measured.store(true, Ordering::Relaxed);
    self.taken();
  }

  /// Whether another batch may be handed over while JS holds one: the last was quick, and the batches
  /// handled back to back have not used up the run budget.
  fn quick(&self) -> bool {
    self.measured.load(Ordering::Relaxed)
      && self.last_batch_us.load(Ordering::Relaxed) < QUICK_BATCH_US
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

  /// Records per batch: as many as JS handles in about [`RUN_BUDGET_US`] at the cost per record it
  /// showed last (at least one, at most [`MAX_BATCH_RECORDS`]). Quick handlers get full batches; a 2 ms
  /// handler gets one record a batch, so a slow consumer still lets Node's loop turn every few
  /// milliseconds instead of after 256 of them (half a second).
  fn record_cap(&self) -> usize {
    if !self.measured.load(Ordering::Relaxed) {
      return FIRST_BATCH_RECORDS;
    }
    let us = self.last_batch_us.load(Ordering::Relaxed);
    let records = self.last_records.load(Ordering::Relaxed) as u64;
    if us == 0 || records == 0 {
      return MAX_BATCH_RECORDS;
    }
    let fit = records.saturating_mul(RUN_BUDGET_US) / us;
    usize::try_from(fit)
      .unwrap_or(MAX_BATCH_RECORDS)
      .clamp(1, MAX_BATCH_RECORDS)
  }
}

/// A closed batch waiting for JS; handed over whole, or in parts when JS has become slower since it was
/// closed (see [`Gauge::record_cap`]).
struct Sealed {
  buf: Vec<u8>,
  /// Where the records not yet handed over begin.
  start: usize,
  /// Records not yet handed over.
  records: usize,
}

/// The next part of a sealed batch: all of it while it fits `cap` records, else its next `cap` records.
fn take_sealed(sealed: &mut Sealed, cap: usize) -> (Vec<u8>, usize) {
  if sealed.start == 0 && sealed.records <= cap {
    let n = std::mem::take(&mut sealed.records);
    return (std::mem::take(&mut sealed.buf), n);
  }
  let n = cap.min(sealed.records);
  let end = records_end(&sealed.buf, sealed.start, n);
  let part = sealed.buf[sealed.start..end].to_vec();
  sealed.start = end;
  sealed.records -= n;
  (part, n)
}

/// Accumulates event records and delivers them in batches of at most [`MAX_BATCH_RECORDS`] records.
pub struct Outbox<D: Deliver> {
  deliver: D,
  writer: BatchWriter,
  /// Full batches waiting for JS, oldest first.
  sealed: VecDeque<Sealed>,
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

  /// Whether batches reach JS inside `deliver` (see [`Deliver::inline`]).
  pub fn inline(&self) -> bool {
    self.deliver.inline()
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

  /// A batch is closed at [`MAX_BATCH_RECORDS`] records or [`MAX_BATCH_BYTES`]; it is handed over in parts
  /// when JS handles fewer in its budget (see [`Gauge::record_cap`]), so one JS callback never holds the
  /// thread for long: between batches Node runs its timers and other I/O.
  fn seal_if_full(&mut self) {
    if self.writer.records() >= MAX_BATCH_RECORDS || self.writer.len() >= MAX_BATCH_BYTES {
      self.seal();
    }
  }

  fn seal(&mut self) {
    let records = self.writer.records();
    let buf = self.writer.take();
    self.sealed_bytes += buf.len();
    self.sealed.push_back(Sealed {
      buf,
      start: 0,
      records,
    });
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
    let cap = self.gauge.record_cap();
    if self.sealed.is_empty() && self.writer.records() > cap {
      // More than JS handles in its budget: hand it over in parts.
      self.seal();
    }
    let (batch, records) = match self.sealed.front_mut() {
      Some(first) => {
        let part = take_sealed(first, cap);
        self.sealed_bytes -= part.0.len();
        if first.records == 0 {
          self.sealed.pop_front();
        }
        part
      }
      None => {
        let n = self.writer.records();
        (self.writer.take(), n)
      }
    };
    self.gauge.last_records.store(records, Ordering::Relaxed);
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
    let gauge = measured_gauge();
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

  #[test]
  fn batches_shrink_to_what_a_slow_handler_does_in_the_budget_and_grow_back() {
    let sink = Collect::default();
    let gauge = measured_gauge();
    let mut outbox = Outbox::new(sink.clone(), gauge.clone());
    let records = |i: usize| Records::new(Bytes::from(sink.0.lock().unwrap()[i].clone())).count();
    seal_one(&mut outbox);
    outbox.flush();
    assert_eq!(records(0), MAX_BATCH_RECORDS);
    // While JS works on it, a second batch is sealed at full size.
    seal_one(&mut outbox);
    outbox.push(0, &[b"tail"]);
    // 256 records took 100 ms (390 us each): about 5 fit in 2 ms, so the sealed one goes in parts.
    gauge.handled(std::time::Duration::from_millis(100));
    let mut handed = 0;
    for i in 1..=52 {
      assert!(outbox.flush());
      assert_eq!(records(i), if i < 52 { 5 } else { 1 }, "part {i}");
      handed += records(i);
      gauge.handled(std::time::Duration::from_micros(390 * records(i) as u64));
    }
    assert_eq!(handed, MAX_BATCH_RECORDS);
    // Then the record pushed after it, and nothing is lost or reordered.
    assert!(outbox.flush());
    let last = sink.0.lock().unwrap()[53].clone();
    let frames: Vec<_> = Records::new(Bytes::from(last))
      .map(|r| r.unwrap().frames[0].clone())
      .collect();
    assert_eq!(frames, vec![Bytes::from_static(b"tail")]);
    // Quick again (1 us a record): full batches.
    gauge.handled(std::time::Duration::from_micros(1));
    assert_eq!(gauge.record_cap(), MAX_BATCH_RECORDS);
    assert!(!outbox.has_pending());
    assert_eq!(outbox.sealed_bytes, 0);
  }

  /// A gauge that has seen JS handle a batch (1 us a record).
  fn measured_gauge() -> Arc<Gauge> {
    let gauge = Arc::new(Gauge::default());
    gauge.handled(std::time::Duration::from_micros(1));
    gauge
  }

  #[test]
  fn the_first_batch_is_small_and_none_goes_early_before_js_handled_one() {
    let sink = Collect::default();
    let gauge = Arc::new(Gauge::default());
    let mut outbox = Outbox::new(sink.clone(), gauge.clone());
    for _ in 0..100 {
      outbox.push(0, &[b"m"]);
    }
    assert!(outbox.flush());
    assert!(!outbox.flush(), "no early hand-over before a measurement");
    let first = Records::new(Bytes::from(sink.0.lock().unwrap()[0].clone())).count();
    assert_eq!(first, FIRST_BATCH_RECORDS);
  }
}
