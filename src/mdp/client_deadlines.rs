//! Request deadlines of a client: a FIFO per timeout value, a heap for the rest.
//!
//! Most requests share one timeout (the client's default), and requests of one timeout are sent in
//! order, so their deadlines arrive in order: a queue per timeout value gives the earliest deadline
//! with a look at a few queue fronts and drops a finished request's entry in O(1), where a heap of
//! every pending request would sift on each. Deadlines that would break a queue's order, and timeouts
//! beyond the first [`MAX_FIFOS`] values, go to a heap. Entries are `(deadline, token)` and may be
//! stale (the request ended, or its deadline moved); the owner checks them against its map.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Timeout values given a queue of their own; other values share the heap.
const MAX_FIFOS: usize = 8;

#[derive(Debug)]
struct Fifo {
  timeout: Duration,
  queue: VecDeque<(Instant, u64)>,
}

/// Pending deadlines, earliest first.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
  fifos: Vec<Fifo>,
  heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

/// Where the earliest entry is.
#[derive(Clone, Copy)]
enum Slot {
  Fifo(usize),
  Heap,
}

impl Deadlines {
  /// Tracks `token`'s deadline `at` (= sent or restarted + `timeout`).
  pub(super) fn push(&mut self, timeout: Duration, at: Instant, token: u64) {
    let found = self.fifos.iter().position(|f| f.timeout == timeout);
    let idx = match found {
      Some(i) => Some(i),
      None if self.fifos.len() < MAX_FIFOS => {
        self.fifos.push(Fifo {
          timeout,
          queue: VecDeque::new(),
        });
        Some(self.fifos.len() - 1)
      }
      None => None,
    };
    if let Some(fifo) = idx.and_then(|i| self.fifos.get_mut(i)) {
      if fifo.queue.back().is_none_or(|&(last, _)| last <= at) {
        fifo.queue.push_back((at, token));
        return;
      }
    }
    self.heap.push(Reverse((at, token)));
  }

  fn earliest(&self) -> Option<(Instant, u64, Slot)> {
    let mut best = self
      .heap
      .peek()
      .map(|Reverse((at, t))| (*at, *t, Slot::Heap));
    for (i, f) in self.fifos.iter().enumerate() {
      if let Some(&(at, t)) = f.queue.front() {
        if best.is_none_or(|(b, _, _)| at < b) {
          best = Some((at, t, Slot::Fifo(i)));
        }
      }
    }
    best
  }

  /// The earliest entry.
  pub(super) fn peek(&self) -> Option<(Instant, u64)> {
    self.earliest().map(|(at, t, _)| (at, t))
  }

  /// Removes and returns the earliest entry.
  pub(super) fn pop(&mut self) -> Option<(Instant, u64)> {
    let (_, _, slot) = self.earliest()?;
    match slot {
      Slot::Heap => self.heap.pop().map(|Reverse(e)| e),
      Slot::Fifo(i) => self.fifos.get_mut(i).and_then(|f| f.queue.pop_front()),
    }
  }

  /// Entries held (stale ones included).
  pub(super) fn len(&self) -> usize {
    self.heap.len() + self.fifos.iter().map(|f| f.queue.len()).sum::<usize>()
  }

  /// Keeps the entries `live(token, at)` accepts (orders are kept).
  pub(super) fn retain(&mut self, mut live: impl FnMut(u64, Instant) -> bool) {
    for f in &mut self.fifos {
      f.queue.retain(|&(at, t)| live(t, at));
    }
    self.heap.retain(|Reverse((at, t))| live(*t, *at));
  }
}
