//! The node's data path, as seen from its event loop: owner commands
//! (subscribe, unsubscribe, publish, packed batches from JavaScript), the
//! publish buffer used while no forwarder is connected, and delivery of
//! incoming messages by exact channel, shedding load when the owner is
//! congested for too long.

use bytes::Bytes;
use tokio::time::Instant;

use super::eventloop::{Node, NodeCommand, NodeEvent, SHED_AFTER};
use super::link::{Link, LinkEvent};
use super::sink::{command, EventSink};
use crate::boundary::batch::Records;

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

impl<S: EventSink> Node<S> {
  pub(super) async fn handle_command(&mut self, cmd: NodeCommand) -> bool {
    match cmd {
      NodeCommand::Subscribe(ch) => self.handle_subscribe(ch).await,
      NodeCommand::Unsubscribe(ch) => self.handle_unsubscribe(ch).await,
      NodeCommand::Publish(frames) => self.publish(frames).await,
      NodeCommand::PublishBatch(batch) => {
        for frames in batch {
          self.publish(frames).await;
        }
      }
      NodeCommand::Batch(batch) => self.handle_batch(batch).await,
      NodeCommand::Stop(_) => {} // handled by the loop
    }
    self.report_counts()
  }

  /// Applies packed records from JavaScript in order. A damaged batch stops
  /// at the damage (the facade never builds one; it is not worth a panic).
  async fn handle_batch(&mut self, batch: Bytes) {
    for record in Records::new(batch) {
      let Ok(mut record) = record else { break };
      match (record.kind, record.frames.len()) {
        (command::SUBSCRIBE, 1) => self.handle_subscribe(record.frames.swap_remove(0)).await,
        (command::UNSUBSCRIBE, 1) => self.handle_unsubscribe(record.frames.swap_remove(0)).await,
        (command::PUBLISH, n) if n > 0 => self.publish(record.frames).await,
        _ => {}
      }
    }
  }

  async fn handle_subscribe(&mut self, ch: Bytes) {
    let prefix_known = self.subs.iter().any(|c| wire_prefix(c) == wire_prefix(&ch));
    if !self.subs.insert(ch.clone()) || prefix_known {
      return;
    }
    if let Some(link) = self.link.as_mut() {
      if link.subscribe(wire_prefix(&ch)).await.is_err() {
        self.lose_link().await;
      }
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

  /// Sends through a ready link, or keeps the message for later.
  async fn publish(&mut self, frames: Vec<Bytes>) {
    if frames.is_empty() {
      return;
    }
    if let Some(link) = self.link.as_mut().filter(|l| l.is_ready()) {
      if link.send(frames).await.is_ok() {
        return;
      }
      // The message may or may not have gone out; the link is unusable.
      self.lose_link().await;
      return;
    }
    if self.buffer.len() >= self.opts.publish_buffer {
      self.dropped += 1;
    } else {
      self.buffer.push_back(frames);
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
    alive
  }

  pub(super) async fn handle_link_event(&mut self, ev: LinkEvent) -> bool {
    match ev {
      LinkEvent::Message(frames) => {
        let mut alive = self.deliver(frames);
        for _ in 0..DRAIN_LIMIT {
          if !alive || (self.sink.congested() && !self.shedding()) {
            break;
          }
          match self.link.as_mut().and_then(Link::try_message) {
            Some(frames) => alive = self.deliver(frames),
            None => break,
          }
        }
        alive && self.report_counts()
      }
      LinkEvent::Ready => self.handle_link_ready().await,
      LinkEvent::Lost => self.lose_link().await,
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
    if self.sink.congested() {
      // Only reached while shedding: reading on would otherwise grow memory.
      self.discarded += 1;
      return true;
    }
    self.sink.emit_message(&frames)
  }

  async fn handle_link_ready(&mut self) -> bool {
    while let Some(frames) = self.buffer.pop_front() {
      self.publish(frames).await;
      if !self.link.as_ref().is_some_and(Link::is_ready) {
        return true; // lost again; the rest waits for the next link
      }
    }
    if self.ready_sent {
      return true;
    }
    self.ready_sent = true;
    self.emit(NodeEvent::Ready)
  }
}
