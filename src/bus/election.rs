//! The election state machine of one node: heartbeats, elections and the
//! choice of the forwarder. Pure: it takes the time and datagrams, and pushes
//! [`Action`]s for the event loop to carry out.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::addresses::Addresses;
use super::codec::{Datagram, NodeMeta};
use super::options::NodeOptions;

/// Candidates remembered per election; more are ignored (a flood guard).
const MAX_CANDIDATES: usize = 1024;
/// Nodes remembered as unreachable; the oldest is forgotten beyond this.
const MAX_BANNED: usize = 256;
/// Metadata remembered from candidate and winner datagrams (to settle a split brain).
const MAX_KNOWN: usize = 256;

/// What the event loop must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
  /// Send this datagram to the discovery group.
  Send(Datagram),
  /// A (new) forwarder is elected: connect the data path to it.
  Elected(NodeMeta),
}

/// Where the node is in an election.
#[derive(Debug)]
enum Round {
  /// No election in progress.
  Idle,
  /// We started an election and will announce its winner at `deadline`.
  Leading {
    deadline: Instant,
    candidates: HashMap<String, NodeMeta>,
    incumbents: HashSet<String>,
    /// Settling a split brain: the rival master whose candidate answer ends the round early.
    rival: Option<String>,
  },
  /// Someone else started one; we wait for its winner until `deadline`.
  Following { deadline: Instant },
}

/// The election state of one node.
#[derive(Debug)]
pub struct Election {
  me: NodeMeta,
  election_timeout: Duration,
  heartbeat_period: Duration,
  heartbeat_timeout: Duration,
  /// The forwarder the data path should use.
  elected: Option<NodeMeta>,
  /// The last winner we accepted, reported in our candidate answers.
  last_elected: Option<NodeMeta>,
  last_heartbeat: Instant,
  changed_at: Instant,
  last_conflict: Option<Instant>,
  round: Round,
  next_tick: Instant,
  /// Nodes we could not connect to, refused as winners until the instant.
  banned: HashMap<String, Instant>,
  /// Nodes heard of, by id, so a split brain can be settled without an election.
  known: HashMap<String, NodeMeta>,
  /// The host each node's own datagrams come from (for original nodes' `0.0.0.0`).
  addresses: Addresses,
  /// A winner whose host is not known yet, taken when that node is first heard.
  pending_winner: Option<(NodeMeta, Instant)>,
}

impl Election {
  /// A node that has elected nobody yet; its first [`Self::handle_tick`] is due at `now`.
  pub fn new(me: NodeMeta, opts: &NodeOptions, now: Instant) -> Self {
    Self {
      me,
      election_timeout: opts.election_timeout,
      heartbeat_period: opts.heartbeat_period,
      heartbeat_timeout: opts.heartbeat_timeout,
      elected: None,
      last_elected: None,
      last_heartbeat: now,
      changed_at: now,
      last_conflict: None,
      round: Round::Idle,
      next_tick: now,
      banned: HashMap::new(),
      known: HashMap::new(),
      addresses: Addresses::default(),
      pending_winner: None,
    }
  }

  /// This node's own metadata.
  pub fn me(&self) -> &NodeMeta {
    &self.me
  }

  /// The elected forwarder, if any.
  pub fn elected(&self) -> Option<&NodeMeta> {
    self.elected.as_ref()
  }

  /// True when this node is the elected one.
  pub fn is_elected(&self) -> bool {
    self.elected.as_ref().is_some_and(|m| m.id == self.me.id)
  }

  /// True while an election (ours or another node's) is in progress.
  pub fn in_progress(&self) -> bool {
    !matches!(self.round, Round::Idle)
  }

  /// When [`Self::handle_tick`] must be called next.
  pub fn next_deadline(&self) -> Instant {
    match self.round {
      Round::Leading { deadline, .. } | Round::Following { deadline } => {
        deadline.min(self.next_tick)
      }
      Round::Idle => self.next_tick,
    }
  }

  /// Handles one datagram from the discovery group that came from host `from`: learns where
  /// its sender speaks from, resolves original nodes' `0.0.0.0` addresses with that, and holds
  /// a winner whose host is not known yet until that node is heard.
  pub fn handle_datagram(
    &mut self,
    dg: Datagram,
    from: std::net::Ipv4Addr,
    now: Instant,
    out: &mut Vec<Action>,
  ) {
    let speaker = match &dg {
      Datagram::Heartbeat { id } => Some(id.clone()),
      Datagram::Candidate { meta, .. } => Some(meta.id.clone()),
      _ => None,
    };
    if let Some(id) = &speaker {
      self.addresses.learn(id, from);
    }
    let dg = match dg {
      Datagram::Candidate { meta, last_elected } => match self.addresses.resolve(&meta) {
        Some(meta) => Datagram::Candidate { meta, last_elected },
        None => return,
      },
      Datagram::Winner { meta } => match self.addresses.resolve(&meta) {
        Some(meta) => Datagram::Winner { meta },
        None => {
          self.pending_winner = Some((meta, now));
          return;
        }
      },
      other => other,
    };
    self.handle_incoming(dg, now, out);
    if let Some(id) = speaker {
      self.take_pending_winner(&id, now, out);
    }
  }

  /// The held winner is `id`, just heard: take it now that its host is known.
  fn take_pending_winner(&mut self, id: &str, now: Instant, out: &mut Vec<Action>) {
    let Some((meta, since)) = self.pending_winner.take_if(|(m, _)| m.id == id) else {
      return;
    };
    if now > since + self.heartbeat_timeout {
      return;
    }
    if let Some(meta) = self.addresses.resolve(&meta) {
      self.handle_incoming_winner(meta, now, out);
    }
  }

  /// Handles one parsed datagram whose addresses are resolved (our own included).
  pub fn handle_incoming(&mut self, dg: Datagram, now: Instant, out: &mut Vec<Action>) {
    match dg {
      Datagram::Heartbeat { id } => self.handle_incoming_heartbeat(&id, now, out),
      Datagram::ElectStart => self.handle_incoming_start(now, out),
      Datagram::Candidate { meta, last_elected } => {
        self.remember(&meta);
        self.handle_incoming_candidate(meta, last_elected, now)
      }
      Datagram::Winner { meta } => self.handle_incoming_winner(meta, now, out),
    }
  }

  /// Periodic work: closes elections, sends our heartbeat when elected, and
  /// starts an election when the elected node has gone quiet.
  pub fn handle_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
    match self.round {
      Round::Leading { deadline, .. } if now >= deadline => self.finish(now, out),
      Round::Following { deadline } if now >= deadline => self.round = Round::Idle,
      _ => {}
    }
    if now < self.next_tick {
      return;
    }
    self.next_tick = now + self.heartbeat_period;
    self.banned.retain(|_, until| *until > now);
    if self.is_elected() {
      self.last_heartbeat = now;
      out.push(Action::Send(Datagram::Heartbeat {
        id: self.me.id.clone(),
      }));
    } else if !self.in_progress()
      && (self.elected.is_none() || now >= self.last_heartbeat + self.heartbeat_timeout)
    {
      self.start_election(now, out);
    }
  }

  /// The data-path connection to the elected forwarder dropped: elect again
  /// at once instead of waiting for the heartbeat timeout.
  pub fn handle_master_lost(&mut self, now: Instant, out: &mut Vec<Action>) {
    if self.is_elected() {
      // Our own forwarder runs in this process; just reconnect to it.
      out.push(Action::Elected(self.me.clone()));
      return;
    }
    self.elected = None;
    if !matches!(self.round, Round::Leading { .. }) {
      self.start_election(now, out);
    }
  }

  /// The elected forwarder could not be connected: refuse it for a while and
  /// elect again.
  pub fn handle_unreachable_winner(&mut self, now: Instant, out: &mut Vec<Action>) {
    let Some(winner) = self.elected.take() else {
      return;
    };
    if winner.id == self.me.id {
      self.elected = Some(winner);
      out.push(Action::Elected(self.me.clone()));
      return;
    }
    if self.banned.len() >= MAX_BANNED {
      self.banned.clear();
    }
    self
      .banned
      .insert(winner.id, now + self.heartbeat_timeout * 5);
    self.last_elected = None;
    if !matches!(self.round, Round::Leading { .. }) {
      self.start_election(now, out);
    }
  }

  fn is_banned(&self, id: &str, now: Instant) -> bool {
    self.banned.get(id).is_some_and(|until| *until > now)
  }

  fn handle_incoming_heartbeat(&mut self, id: &str, now: Instant, out: &mut Vec<Action>) {
    if self.elected.as_ref().is_some_and(|m| m.id == id) {
      self.last_heartbeat = now;
      return;
    }
    // A heartbeat from another node means two nodes think they are elected (concurrent
    // elections, or nodes that could not hear each other for a while). Settle it, but not
    // during an election, not right after a change (the old master's heartbeats may still be
    // in flight), and at most once per heartbeat period so a flood cannot keep us busy.
    if self.elected.is_none()
      || self.in_progress()
      || self.is_banned(id, now)
      || self.conflict_pending(now)
    {
      return;
    }
    self.last_conflict = Some(now);
    self.settle(id, now, out);
  }

  /// The election rule applied to a split brain: the smaller id of our master and `other`
  /// wins. A known winner is announced at once (every node, ours or an original one, takes
  /// a `winner`); an unknown one is found by an election.
  fn settle(&mut self, other: &str, now: Instant, out: &mut Vec<Action>) {
    let Some(mine) = self.elected.clone() else {
      return;
    };
    if mine.id.as_str() < other && self.master_alive(now) {
      out.push(Action::Send(Datagram::Winner { meta: mine }));
      return;
    }
    match self.known.get(other).cloned() {
      Some(meta) if meta.id.as_str() < mine.id.as_str() => {
        out.push(Action::Send(Datagram::Winner { meta: meta.clone() }));
        self.apply_winner(meta, now, out);
      }
      _ => {
        // Its address comes with its candidate answer; the round ends as soon as it does.
        self.start_election(now, out);
        if let Round::Leading { rival, .. } = &mut self.round {
          *rival = Some(other.to_owned());
        }
      }
    }
  }

  /// A `winner` datagram: taken, unless it names a worse node than our live master (a split
  /// brain, or a stale election): then our master is announced again, once per period.
  fn handle_incoming_winner(&mut self, meta: NodeMeta, now: Instant, out: &mut Vec<Action>) {
    self.remember(&meta);
    let worse = self
      .elected
      .as_ref()
      .is_some_and(|e| e.id.as_str() < meta.id.as_str());
    if worse && self.master_alive(now) && !matches!(self.round, Round::Leading { .. }) {
      if !self.conflict_pending(now) {
        self.last_conflict = Some(now);
        if let Some(mine) = self.elected.clone() {
          out.push(Action::Send(Datagram::Winner { meta: mine }));
        }
      }
      return;
    }
    self.apply_winner(meta, now, out);
  }

  /// True while a conflict was acted on less than a heartbeat period ago, or the master
  /// changed that recently.
  fn conflict_pending(&self, now: Instant) -> bool {
    let settling = now < self.changed_at + self.heartbeat_period;
    let recent = self
      .last_conflict
      .is_some_and(|t| now < t + self.heartbeat_period);
    settling || recent
  }

  /// True when we are the master, or heard its heartbeat within the timeout.
  fn master_alive(&self, now: Instant) -> bool {
    self.is_elected() || now < self.last_heartbeat + self.heartbeat_timeout
  }

  fn remember(&mut self, meta: &NodeMeta) {
    if meta.id == self.me.id {
      return;
    }
    if self.known.len() >= MAX_KNOWN && !self.known.contains_key(&meta.id) {
      self.known.clear();
    }
    self.known.insert(meta.id.clone(), meta.clone());
  }

  fn handle_incoming_start(&mut self, now: Instant, out: &mut Vec<Action>) {
    out.push(Action::Send(Datagram::Candidate {
      meta: self.me.clone(),
      last_elected: self.last_elected.clone(),
    }));
    if matches!(self.round, Round::Idle) {
      // Wait for the starter's winner a little longer than it collects.
      self.round = Round::Following {
        deadline: now + self.election_timeout * 2,
      };
    }
  }

  fn handle_incoming_candidate(
    &mut self,
    meta: NodeMeta,
    last_elected: Option<NodeMeta>,
    now: Instant,
  ) {
    let Round::Leading {
      candidates,
      incumbents,
      rival,
      deadline,
    } = &mut self.round
    else {
      return;
    };
    if rival.as_deref() == Some(meta.id.as_str()) {
      *deadline = now;
    }
    if candidates.len() >= MAX_CANDIDATES {
      return;
    }
    if meta.id == self.me.id && meta != self.me {
      return; // someone else claims our id
    }
    if let Some(last) = last_elected {
      incumbents.insert(last.id);
    }
    candidates.insert(meta.id.clone(), meta);
  }

  fn start_election(&mut self, now: Instant, out: &mut Vec<Action>) {
    let mut candidates = HashMap::new();
    candidates.insert(self.me.id.clone(), self.me.clone());
    let incumbents = self.last_elected.iter().map(|m| m.id.clone()).collect();
    self.round = Round::Leading {
      deadline: now + self.election_timeout,
      candidates,
      incumbents,
      rival: None,
    };
    out.push(Action::Send(Datagram::ElectStart));
  }

  /// Closes our election: the incumbent stays if it answered, else the
  /// smallest id wins. Unreachable nodes are never chosen.
  fn finish(&mut self, now: Instant, out: &mut Vec<Action>) {
    let round = std::mem::replace(&mut self.round, Round::Idle);
    let Round::Leading {
      candidates,
      incumbents,
      ..
    } = round
    else {
      return;
    };
    let eligible: Vec<&NodeMeta> = candidates
      .values()
      .filter(|m| !self.is_banned(&m.id, now))
      .collect();
    let incumbent = eligible
      .iter()
      .filter(|m| incumbents.contains(&m.id))
      .min_by(|a, b| a.id.cmp(&b.id));
    let best = incumbent
      .or_else(|| eligible.iter().min_by(|a, b| a.id.cmp(&b.id)))
      .map(|m| (*m).clone())
      .unwrap_or_else(|| self.me.clone());
    out.push(Action::Send(Datagram::Winner { meta: best.clone() }));
    self.apply_winner(best, now, out);
  }

  fn apply_winner(&mut self, meta: NodeMeta, now: Instant, out: &mut Vec<Action>) {
    if (meta.id == self.me.id && meta != self.me) || self.is_banned(&meta.id, now) {
      return; // a forged claim of our id, or a node we cannot reach
    }
    self.round = Round::Idle;
    self.last_heartbeat = now;
    self.last_elected = Some(meta.clone());
    if self.elected.as_ref() == Some(&meta) {
      return;
    }
    self.elected = Some(meta.clone());
    self.changed_at = now;
    let is_me = meta.id == self.me.id;
    out.push(Action::Elected(meta));
    if is_me {
      out.push(Action::Send(Datagram::Heartbeat {
        id: self.me.id.clone(),
      }));
    }
  }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
