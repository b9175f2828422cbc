//! Where a node's events go, and the record kinds of the packed JS <-> Rust
//! format used by the napi binding.
//!
//! The event loop talks to an [`EventSink`]: a plain channel in Rust tests,
//! or an [`OutboxSink`] that packs events into batched records for
//! JavaScript (one native call per batch, never per message) and reports
//! congestion so the loop stops reading its SUB socket while JS is behind.

use std::future::Future;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::eventloop::NodeEvent;
use crate::boundary::outbox::{Deliver, Outbox};

/// Record kinds from JavaScript (mirrors lib/bus.js; keep in sync).
pub mod command {
  /// `[channel]`: add an exact-channel subscription (`*` = all).
  pub const SUBSCRIBE: u8 = 1;
  /// `[channel]`: remove a subscription.
  pub const UNSUBSCRIBE: u8 = 2;
  /// `[channel, ...args]`: publish one message.
  pub const PUBLISH: u8 = 3;
}

/// Record kinds to JavaScript (mirrors lib/bus.js; keep in sync).
pub mod event {
  /// `[]`: first connection to an elected forwarder.
  pub const READY: u8 = 1;
  /// `[id, "1" | "0"]`: a forwarder was elected; "1" when it is this node.
  pub const ELECTED: u8 = 2;
  /// `[channel, ...frames]`: a message on a subscribed channel.
  pub const MESSAGE: u8 = 3;
  /// `[message]`: a failure (the node may go on).
  pub const ERROR: u8 = 4;
  /// `[count]`: publishes lost to a full publish buffer.
  pub const DROPPED: u8 = 5;
  /// `[count]`: incoming messages discarded because JS fell behind.
  pub const DISCARDED: u8 = 6;
  /// `[]`: the node has stopped; nothing follows.
  pub const STOPPED: u8 = 7;
  /// `[count, reason]`: discovery datagrams refused for `reason`.
  pub const REFUSED: u8 = 8;
}

/// The owner's side of the event stream.
pub trait EventSink: Send + 'static {
  /// Takes one event. Returns false when the owner has gone away.
  fn emit(&mut self, ev: NodeEvent) -> bool;

  /// Takes one message (frame 0 is the channel) without building an event.
  fn emit_message(&mut self, frames: &[Bytes]) -> bool {
    self.emit(NodeEvent::Message(frames.to_vec()))
  }

  /// Called once per loop turn, after everything ready was handled.
  fn flush(&mut self) {}

  /// Called once when the loop ends, after the final event.
  fn finish(&mut self) {}

  /// True while the owner is so far behind that the loop must stop reading.
  fn congested(&self) -> bool {
    false
  }

  /// True when the owner handles events inside `emit`/`flush`, on the loop's own thread: while it is slow
  /// the loop cannot read, so a long handler shows as a stall of the loop instead of congestion.
  fn inline(&self) -> bool {
    false
  }

  /// True while events wait until the owner takes the batch it has.
  fn has_pending(&self) -> bool {
    false
  }

  /// Resolves when the owner took a batch (only awaited while `has_pending`).
  fn taken(&self) -> impl Future<Output = ()> + Send {
    std::future::pending()
  }
}

impl EventSink for mpsc::UnboundedSender<NodeEvent> {
  fn emit(&mut self, ev: NodeEvent) -> bool {
    self.send(ev).is_ok()
  }
}

/// Packs events into batched records for JavaScript.
pub struct OutboxSink<D: Deliver> {
  outbox: Outbox<D>,
}

impl<D: Deliver> OutboxSink<D> {
  /// A sink over `outbox`.
  pub fn new(outbox: Outbox<D>) -> Self {
    Self { outbox }
  }
}

const NO_FRAMES: &[&[u8]] = &[];

impl<D: Deliver + Sync> EventSink for OutboxSink<D> {
  fn emit(&mut self, ev: NodeEvent) -> bool {
    let out = &mut self.outbox;
    match ev {
      NodeEvent::Ready => out.push(event::READY, NO_FRAMES),
      NodeEvent::Elected { id, is_me } => {
        let me: &[u8] = if is_me { b"1" } else { b"0" };
        out.push(event::ELECTED, &[id.as_bytes(), me]);
      }
      NodeEvent::Message(frames) => out.push(event::MESSAGE, &frames),
      NodeEvent::Error(msg) => out.push(event::ERROR, &[msg.as_bytes()]),
      NodeEvent::Dropped { count } => out.push(event::DROPPED, &[count.to_string()]),
      NodeEvent::Discarded { count } => out.push(event::DISCARDED, &[count.to_string()]),
      NodeEvent::Refused { reason, count } => out.push(
        event::REFUSED,
        &[count.to_string().as_bytes(), reason.as_bytes()],
      ),
      NodeEvent::Stopped => out.push(event::STOPPED, NO_FRAMES),
    }
    !out.is_closed()
  }

  fn emit_message(&mut self, frames: &[Bytes]) -> bool {
    self.outbox.push(event::MESSAGE, frames);
    !self.outbox.is_closed()
  }

  fn flush(&mut self) {
    self.outbox.flush();
  }

  fn finish(&mut self) {
    self.outbox.flush_now();
  }

  fn congested(&self) -> bool {
    self.outbox.congested()
  }

  fn has_pending(&self) -> bool {
    self.outbox.has_pending()
  }

  fn inline(&self) -> bool {
    self.outbox.inline()
  }

  fn taken(&self) -> impl Future<Output = ()> + Send {
    self.outbox.taken()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::boundary::batch::Records;
  use crate::boundary::outbox::tests::Collect;
  use crate::boundary::outbox::Gauge;
  use std::sync::Arc;

  #[test]
  fn events_become_records_the_facade_can_read() {
    let sink = Collect::default();
    let mut s = OutboxSink::new(Outbox::new(sink.clone(), Arc::new(Gauge::default())));
    s.emit(NodeEvent::Elected {
      id: "9900000001".into(),
      is_me: true,
    });
    s.emit_message(&[Bytes::from_static(b"equity"), Bytes::from_static(b"500")]);
    s.emit(NodeEvent::Dropped { count: 3 });
    s.emit(NodeEvent::Stopped);
    s.finish();
    let batches = sink.0.lock().unwrap().clone();
    assert_eq!(batches.len(), 1);
    let recs: Vec<_> = Records::new(Bytes::from(batches[0].clone()))
      .map(|r| r.unwrap())
      .map(|r| (r.kind, r.frames))
      .collect();
    assert_eq!(
      recs,
      vec![
        (
          event::ELECTED,
          vec![Bytes::from_static(b"9900000001"), Bytes::from_static(b"1")]
        ),
        (
          event::MESSAGE,
          vec![Bytes::from_static(b"equity"), Bytes::from_static(b"500")]
        ),
        (event::DROPPED, vec![Bytes::from_static(b"3")]),
        (event::STOPPED, vec![]),
      ]
    );
  }
}
