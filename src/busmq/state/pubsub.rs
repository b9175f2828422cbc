//! `bus.pubsub(name)` objects (pure): which objects listen on which `bus:pubsub:<name>`
//! channel, when to SUBSCRIBE and UNSUBSCRIBE (first listener, last listener), and who hears
//! a message.

use super::Queues;
use crate::busmq::types::{Action, Event, Op, Qid};
use bytes::Bytes;

/// The listeners of one pub/sub channel.
#[derive(Debug, Default)]
pub(super) struct Listeners {
  /// Objects subscribed, in the order they asked.
  pids: Vec<Qid>,
  /// The SUBSCRIBE is confirmed by Redis.
  confirmed: bool,
}

impl Queues {
  /// `pubsub.subscribe()`: `subscribed` once Redis confirms (at once when it already has).
  pub fn handle_subscribe(&mut self, pid: Qid, channel: String) -> Vec<Action> {
    let entry = self.pubsubs.entry(channel.clone()).or_default();
    if entry.pids.contains(&pid) {
      return Vec::new();
    }
    entry.pids.push(pid);
    if entry.confirmed {
      vec![Action::Emit(Event::Subscribed(pid))]
    } else if entry.pids.len() == 1 {
      vec![Action::Run(Op::Subscribe { channel })]
    } else {
      Vec::new()
    }
  }

  /// `pubsub.unsubscribe()`: `unsubscribed`, and UNSUBSCRIBE after the last listener.
  pub fn handle_unsubscribe(&mut self, pid: Qid, channel: &str) -> Vec<Action> {
    let Some(entry) = self.pubsubs.get_mut(channel) else {
      return Vec::new();
    };
    let before = entry.pids.len();
    entry.pids.retain(|p| *p != pid);
    if entry.pids.len() == before {
      return Vec::new();
    }
    let mut out = vec![Action::Emit(Event::Unsubscribed(pid))];
    if entry.pids.is_empty() {
      self.pubsubs.remove(channel);
      out.push(Action::Run(Op::Unsubscribe {
        channel: channel.to_string(),
      }));
    }
    out
  }

  /// A pub/sub object was garbage-collected: it stops listening everywhere.
  pub(super) fn forget_pubsub(&mut self, pid: Qid, out: &mut Vec<Action>) {
    let channels: Vec<String> = self
      .pubsubs
      .iter()
      .filter(|(_, e)| e.pids.contains(&pid))
      .map(|(c, _)| c.clone())
      .collect();
    for channel in channels {
      let actions = self.handle_unsubscribe(pid, &channel);
      // Nobody is left to hear `unsubscribed`; the UNSUBSCRIBE still goes out.
      out.extend(actions.into_iter().filter(|a| matches!(a, Action::Run(_))));
    }
  }

  /// Redis confirmed the SUBSCRIBE of `channel`: every listener not told yet hears it.
  pub(super) fn pubsub_subscribed(&mut self, channel: &str, out: &mut Vec<Action>) {
    if let Some(entry) = self.pubsubs.get_mut(channel) {
      if !entry.confirmed {
        entry.confirmed = true;
        out.extend(
          entry
            .pids
            .iter()
            .map(|p| Action::Emit(Event::Subscribed(*p))),
        );
      }
    }
  }

  /// A message on `channel`, for each of its listeners. Empty for channels of no pub/sub object.
  pub fn handle_pubsub_message(&self, channel: &str, payload: &[u8]) -> Vec<Action> {
    self.pubsubs.get(channel).map_or_else(Vec::new, |entry| {
      let payload = Bytes::copy_from_slice(payload);
      entry
        .pids
        .iter()
        .map(|pid| {
          Action::Emit(Event::PubsubMessage {
            pid: *pid,
            payload: payload.clone(),
          })
        })
        .collect()
    })
  }

  /// The objects listening on `channel`.
  pub(super) fn pubsub_listeners(&self, channel: &str) -> Vec<Qid> {
    self
      .pubsubs
      .get(channel)
      .map(|e| e.pids.clone())
      .unwrap_or_default()
  }

  /// The connection came back: SUBSCRIBE every channel with listeners again (they already
  /// heard `subscribed`, so the confirmation is not announced twice).
  pub(super) fn pubsub_online(&mut self, out: &mut Vec<Action>) {
    for channel in self.pubsubs.keys() {
      out.push(Action::Run(Op::Subscribe {
        channel: channel.clone(),
      }));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::busmq::types::Done;
  use std::time::Instant;

  fn subscribed(q: &mut Queues, channel: &str) -> Vec<Action> {
    q.handle_done(
      Done::Subscribed {
        channel: channel.to_string(),
      },
      Instant::now(),
    )
  }

  #[test]
  fn first_listener_subscribes_and_every_listener_hears_the_confirmation() {
    let mut q = Queues::new();
    let ch = "bus:pubsub:x";
    assert_eq!(
      q.handle_subscribe(1, ch.into()),
      vec![Action::Run(Op::Subscribe { channel: ch.into() })]
    );
    assert!(q.handle_subscribe(2, ch.into()).is_empty());
    assert_eq!(
      subscribed(&mut q, ch),
      vec![
        Action::Emit(Event::Subscribed(1)),
        Action::Emit(Event::Subscribed(2))
      ]
    );
    // A third listener after the confirmation hears it at once, with no second SUBSCRIBE.
    assert_eq!(
      q.handle_subscribe(3, ch.into()),
      vec![Action::Emit(Event::Subscribed(3))]
    );
  }

  #[test]
  fn messages_reach_every_listener_of_their_channel_only() {
    let mut q = Queues::new();
    q.handle_subscribe(1, "bus:pubsub:a".into());
    q.handle_subscribe(2, "bus:pubsub:b".into());
    let got = q.handle_pubsub_message("bus:pubsub:a", b"hi");
    assert_eq!(
      got,
      vec![Action::Emit(Event::PubsubMessage {
        pid: 1,
        payload: Bytes::from_static(b"hi")
      })]
    );
    assert!(q.handle_pubsub_message("bus:pubsub:c", b"x").is_empty());
  }

  #[test]
  fn last_listener_leaving_unsubscribes() {
    let mut q = Queues::new();
    let ch = "bus:pubsub:x";
    q.handle_subscribe(1, ch.into());
    q.handle_subscribe(2, ch.into());
    assert_eq!(
      q.handle_unsubscribe(1, ch),
      vec![Action::Emit(Event::Unsubscribed(1))]
    );
    assert_eq!(
      q.handle_unsubscribe(2, ch),
      vec![
        Action::Emit(Event::Unsubscribed(2)),
        Action::Run(Op::Unsubscribe { channel: ch.into() })
      ]
    );
    assert!(q.handle_unsubscribe(2, ch).is_empty());
  }

  #[test]
  fn a_forgotten_listener_unsubscribes_without_events() {
    let mut q = Queues::new();
    q.handle_subscribe(7, "bus:pubsub:x".into());
    let mut out = Vec::new();
    q.forget_pubsub(7, &mut out);
    assert_eq!(
      out,
      vec![Action::Run(Op::Unsubscribe {
        channel: "bus:pubsub:x".into()
      })]
    );
  }
}
