//! The node's data path, as seen from its event loop: owner commands
//! (subscribe, unsubscribe, publish, packed batches from JavaScript), the
//! publish buffer used while no forwarder is connected, and delivery of
//! incoming messages by exact channel, shedding load when the owner is
//! congested for too long.

use bytes::Bytes;
use tokio::time::Instant;

use super::eventloop::{
  Node, NodeCommand, NodeEvent, LINK_SETTLE, SHED_AFTER, SUB_SETTLE, TURN_BUDGET,
};
use super::link::{Link, LinkEvent, WRITE_CHUNK};
use super::sink::{command, EventSink};
use crate::boundary::batch::Records;
use crate::driver::reactor::Reactor;

/// Most messages read from the forwarder in one loop turn, so one turn never
/// holds the runtime for long and events go out in batches.
const DRAIN_LIMIT: usize = 1024;

/// The channel that means "every channel".
const ALL: &[u8] = b"*";

/// The subscription prefix on the wire: `*` is the empty (match-all) prefix.
pub(super) fn wire_prefix(channel: &[u8]) -> &[u8] {
  if channel == ALL {
    b""
  } else {
    channel
  }
}

impl<R: Reactor + Clone, S: EventSink> Node<R, S> {
  pub(super) async fn handle_command(&mut self, cmd: NodeCommand) -> bool {
    match cmd {
      NodeCommand::Subscribe(ch) => self.handle_subscribe(ch).await,
      NodeCommand::Unsubscribe(ch) => self.handle_unsubscribe(ch).await,
      NodeCommand::Publish(frames) => {
        self.publish(frames).await;
        self.flush_link().await;
      }
      NodeCommand::PublishBatch(batch) => {
        for frames in batch {
          self.publish(frames).await;
        }
        self.flush_link().await;
      }
      NodeCommand::Batch(batch) => {
        // A dead forwarder must be noticed before publishing into it.
        if !self.poll_link_state().await {
          return false;
        }
        self.unfinished = Some(Records::new(batch));
        return self.continue_batch().await;
      }
      NodeCommand::Stop(_) => {} // handled by the loop
    }
    self.report_counts()
  }

  /// Applies packed records from JavaScript in order, for at most
  /// [`TURN_BUDGET`]; what is left stays in `unfinished` for the next turn.
  /// A damaged batch stops at the damage (the facade never builds one).
  pub(super) async fn continue_batch(&mut self) -> bool {
    let Some(mut records) = self.unfinished.take() else {
      return true;
    };
    let until = Instant::now() + TURN_BUDGET;
    while let Some(record) = records.next() {
      let Ok(mut record) = record else { break };
      match (record.kind, record.frames.len()) {
        (command::SUBSCRIBE, 1) => self.handle_subscribe(record.frames.swap_remove(0)).await,
        (command::UNSUBSCRIBE, 1) => self.handle_unsubscribe(record.frames.swap_remove(0)).await,
        (command::PUBLISH, n) if n > 0 => self.publish(record.frames).await,
        _ => {}
      }
      if Instant::now() >= until {
        self.unfinished = Some(records);
        break;
      }
    }
    self.flush_link().await;
    self.report_counts()
  }

  async fn handle_subscribe(&mut self, ch: Bytes) {
    let prefix_known = self.subs.iter().any(|c| wire_prefix(c) == wire_prefix(&ch));
    if !self.subs.insert(ch.clone()) || prefix_known {
      return;
    }
    if let Some(link) = self.link.as_mut() {
      if link.subscribe(wire_prefix(&ch)).await.is_err() {
        self.lose_link().await;
        return;
      }
      self.hold_for(SUB_SETTLE);
    }
  }

  async fn handle_unsubscribe(&mut self, ch: Bytes) {
    if !self.subs.remove(&ch) || self.subs.iter().any(|c| wire_prefix(c) == wire_prefix(&ch)) {
      return;
    }
    if let Some(link) = self.link.as_mut() {
      if link.unsubscribe(wire_prefix(&ch)).await.is_err() {
        self.lose_link().await;
      }
    }
  }

  /// The distinct wire prefixes of the current subscriptions, sorted.
  pub(super) fn wire_prefixes(&self) -> Vec<Vec<u8>> {
    let mut prefixes: Vec<Vec<u8>> = self.subs.iter().map(|c| wire_prefix(c).to_vec()).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    prefixes
  }

  /// Holds publishes for `pause` from now (never shortens a longer hold).
  fn hold_for(&mut self, pause: std::time::Duration) {
    let until = Instant::now() + pause;
    self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
  }

  /// Handles a pending link state change (ready, lost) without reading messages.
  async fn poll_link_state(&mut self) -> bool {
    let Some(link) = self.link.as_mut() else {
      return true;
    };
    match crate::transport::ready_now(link.next_event(false)).await {
      Some(ev) => self.handle_link_event(ev).await,
      None => true,
    }
  }

  /// Encodes for a ready link (written by [`Self::flush_link`], or here
  /// once a chunk is full), or keeps the message for later (no link, a hold,
  /// or older messages still waiting: order is kept).
  async fn publish(&mut self, frames: Vec<Bytes>) {
    if frames.is_empty() {
      return;
    }
    let direct = self.hold_until.is_none() && self.buffer.is_empty();
    if let Some(link) = self.link.as_mut().filter(|l| direct && l.is_ready()) {
      link.feed(&frames);
      let full = link.unwritten() >= WRITE_CHUNK;
      self.remember(frames);
      if full {
        self.flush_link().await;
      }
      return;
    }
    if self.buffer.len() >= self.opts.publish_buffer {
      self.dropped += 1;
    } else {
      self.buffer.push_back(frames);
    }
  }

  /// Keeps a written publish for `resend_window`, forgetting older ones.
  fn remember(&mut self, frames: Vec<Bytes>) {
    let window = self.opts.resend_window;
    if window.is_zero() {
      return;
    }
    let now = Instant::now();
    while self.recent.front().is_some_and(|(t, _)| *t + window < now) {
      self.recent.pop_front();
    }
    self.recent.push_back((now, frames));
  }

  /// The forwarder is gone: what was written to it within `resend_window`
  /// goes back to the front of the buffer, oldest first (bounded like it).
  pub(super) fn requeue_recent(&mut self) {
    let window = self.opts.resend_window;
    let recent = std::mem::take(&mut self.recent);
    let now = Instant::now();
    for (t, frames) in recent.into_iter().rev() {
      if t + window < now {
        break;
      }
      if self.buffer.len() >= self.opts.publish_buffer {
        self.dropped += 1;
      } else {
        self.buffer.push_front(frames);
      }
    }
  }

  /// Writes the encoded publishes; a failure loses the link (what was
  /// encoded may or may not have reached the forwarder).
  pub(super) async fn flush_link(&mut self) {
    let Some(link) = self.link.as_mut() else {
      return;
    };
    if link.flush().await.is_err() {
      self.lose_link().await;
    }
  }

  /// Reports publishes dropped and messages discarded since the last report.
  pub(super) fn report_counts(&mut self) -> bool {
    let mut alive = true;
    if self.dropped > 0 {
      let count = std::mem::take(&mut self.dropped);
      alive &= self.emit(NodeEvent::Dropped { count });
    }
    if self.discarded > 0 {
      let count = std::mem::take(&mut self.discarded);
      alive &= self.emit(NodeEvent::Discarded { count });
    }
    for (reason, count) in self.refused.take() {
      alive &= self.emit(NodeEvent::Refused { reason, count });
    }
    alive
  }

  pub(super) async fn handle_link_event(&mut self, ev: LinkEvent) -> bool {
    match ev {
      LinkEvent::Message(frames) => {
        let started = Instant::now();
        let mut alive = self.deliver(frames);
        for _ in 0..DRAIN_LIMIT {
          if !alive || (self.sink.congested() && !self.shedding()) {
            break;
          }
          let next = match self.link.as_mut() {
            Some(link) => link.try_message().await,
            None => None,
          };
          match next {
            Some(frames) => alive = self.deliver(frames),
            None => {
              self.stale_until = None; // caught up
              break;
            }
          }
        }
        self.note_stall(started);
        alive && self.report_counts()
      }
      LinkEvent::Ready => self.handle_link_ready().await,
      LinkEvent::Lost => self.lose_link().await,
    }
  }

  /// An owner handling events inline (on the loop's thread) that kept the loop from running for
  /// [`SHED_AFTER`] since `started` left a backlog as old as that stall: what has arrived meanwhile is read
  /// and discarded (counted), for as long as the stall lasted or until the link is drained, as a congested
  /// owner's messages are on a loop of its own.
  pub(super) fn note_stall(&mut self, started: Instant) {
    let stalled = started.elapsed();
    if stalled >= SHED_AFTER && self.sink.inline() {
      self.stale_until = Some(Instant::now() + stalled);
    }
  }

  /// True once the owner has been congested for [`SHED_AFTER`].
  fn shedding(&self) -> bool {
    self
      .congested_since
      .is_some_and(|since| Instant::now() >= since + SHED_AFTER)
  }

  /// Hands a message to the owner if its channel is subscribed exactly.
  fn deliver(&mut self, frames: Vec<Bytes>) -> bool {
    let wanted = frames
      .first()
      .is_some_and(|ch| self.subs.contains(ch) || self.subs.contains(ALL));
    if !wanted {
      return true;
    }
    if self.sink.congested() || self.stale_until.is_some_and(|t| Instant::now() < t) {
      // Only reached while shedding (or dropping a stale backlog): reading on would otherwise grow memory.
      self.discarded += 1;
      return true;
    }
    self.sink.emit_message(&frames)
  }

  /// Sends what waited in the buffer once the hold is over.
  pub(super) async fn release_buffer(&mut self) -> bool {
    self.hold_until = None;
    while self.link.as_ref().is_some_and(Link::is_ready) {
      let Some(frames) = self.buffer.pop_front() else {
        break;
      };
      let Some(link) = self.link.as_mut() else {
        break;
      };
      if link.send(frames).await.is_err() {
        return self.lose_link().await; // the rest waits for the next link
      }
    }
    true
  }

  async fn handle_link_ready(&mut self) -> bool {
    self.hold_for(LINK_SETTLE);
    if self.ready_sent {
      return true;
    }
    self.ready_sent = true;
    self.emit(NodeEvent::Ready)
  }
}
