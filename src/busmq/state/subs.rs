//! The consumers' subscriptions to their queues' `available` channels (busmq's notification
//! of a push), and their muting: while every consumer of a channel on this bus waits in the
//! lane's blocking pops (`crate::busmq::lane`), a notification tells the loop nothing the
//! lane's `BLMPOP` does not already see (every push, ours or busmq's, is an `RPUSH` to the
//! queue's list), yet wakes the runtime thread for each message. The channel is then
//! unsubscribed, and subscribed again (with a pop after the confirmation, which finds what
//! came meanwhile) as soon as one of its consumers may pop otherwise: its lease ended, another
//! consumer came, or the connections came back.

use super::Queues;
use crate::busmq::types::{Action, Op, Qid};

impl Queues {
  pub(super) fn subscribed(&mut self, channel: &str, out: &mut Vec<Action>) {
    if self.muted.contains(channel) {
      return; // a SUBSCRIBE sent before the channel was muted: Redis has it unsubscribed
    }
    let Some(entry) = self.subs.get_mut(channel) else {
      return;
    };
    entry.1 = true;
    for qid in entry.0.clone() {
      self.drain(qid, out);
    }
    self.mute_if_leased(channel, out);
  }

  /// A notification on `channel` (a new message id was published).
  pub fn handle_notify(&mut self, channel: &str) -> Vec<Action> {
    let mut out = Vec::new();
    if let Some((qids, true)) = self.subs.get(channel) {
      for qid in qids.clone() {
        self.drain(qid, &mut out);
      }
    }
    out
  }

  /// The connections came (back) online: subscribe again and look for missed messages.
  pub fn handle_online(&mut self) -> Vec<Action> {
    let mut out = Vec::new();
    self.muted.clear();
    for (channel, entry) in &mut self.subs {
      entry.1 = false;
      out.push(Action::Run(Op::Subscribe {
        channel: channel.clone(),
      }));
    }
    self.pubsub_online(&mut out);
    out
  }

  pub(super) fn unsubscribe(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get(&qid) else {
      return;
    };
    let channel = &q.keys.available;
    let Some(entry) = self.subs.get_mut(channel) else {
      return;
    };
    entry.0.retain(|other| *other != qid);
    if entry.0.is_empty() {
      self.subs.remove(channel);
      if self.muted.remove(channel) {
        return; // already unsubscribed
      }
      out.push(Action::Run(Op::Unsubscribe {
        channel: channel.clone(),
      }));
    }
  }

  /// The loop handed consumer `qid`'s pop to the lane; its channel is muted when all its
  /// consumers wait there.
  pub fn handle_leasing(&mut self, qid: Qid) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(q) = self.queues.get_mut(&qid) else {
      return out;
    };
    let Some(c) = q.consumer.as_mut().filter(|c| c.in_flight) else {
      return out;
    };
    c.leased = true;
    let channel = q.keys.available.clone();
    self.mute_if_leased(&channel, &mut out);
    out
  }

  /// Unsubscribes `channel` when it is confirmed, not muted, no `bus.pubsub()` listens on it,
  /// and every consumer on it waits on the lane.
  pub(super) fn mute_if_leased(&mut self, channel: &str, out: &mut Vec<Action>) {
    let Some((qids, true)) = self.subs.get(channel) else {
      return;
    };
    if self.muted.contains(channel) || self.pubsubs.contains_key(channel) {
      return;
    }
    let all_leased = qids.iter().all(|qid| {
      let c = self.queues.get(qid).and_then(|q| q.consumer.as_ref());
      c.is_some_and(|c| c.leased && !c.stopping)
    });
    if !all_leased {
      return;
    }
    self.muted.insert(channel.to_string());
    out.push(Action::Run(Op::Unsubscribe {
      channel: channel.to_string(),
    }));
  }

  /// Subscribes the channel of `qid`'s queue again if it was muted; the confirmation pops.
  pub(super) fn unmute(&mut self, qid: Qid, out: &mut Vec<Action>) {
    let Some(q) = self.queues.get(&qid) else {
      return;
    };
    let channel = &q.keys.available;
    if !self.muted.remove(channel) {
      return;
    }
    if let Some(entry) = self.subs.get_mut(channel) {
      entry.1 = false;
      out.push(Action::Run(Op::Subscribe {
        channel: channel.clone(),
      }));
    }
  }
}
