//! Tests of the election state machine with controlled time: single nodes,
//! small simulated clusters on a perfect multicast medium, hostile input.

use super::*;
use crate::bus::codec::{encode, format_id, parse};

fn meta(id: &str) -> NodeMeta {
  let port: u32 = id[6..].parse().unwrap();
  NodeMeta {
    id: id.into(),
    sub_addr: format!("tcp://127.0.0.1:{}", 20000 + port),
    pub_addr: format!("tcp://127.0.0.1:{}", 30000 + port),
  }
}

fn opts() -> NodeOptions {
  NodeOptions {
    election_timeout: Duration::from_millis(200),
    heartbeat_period: Duration::from_millis(100),
    heartbeat_timeout: Duration::from_millis(300),
    ..NodeOptions::default()
  }
}

fn hb(id: &str) -> Datagram {
  Datagram::Heartbeat { id: id.into() }
}

fn winner(id: &str) -> Datagram {
  Datagram::Winner { meta: meta(id) }
}

fn ms(n: u64) -> Duration {
  Duration::from_millis(n)
}

fn sends(out: &[Action]) -> Vec<Datagram> {
  out
    .iter()
    .filter_map(|a| match a {
      Action::Send(d) => Some(d.clone()),
      Action::Elected(_) => None,
    })
    .collect()
}

/// Nodes on a lossless medium that delivers every datagram to every node
/// (the sender too, like multicast loop), through the real codec.
struct Cluster {
  nodes: Vec<Option<Election>>,
  elected: Vec<Vec<NodeMeta>>,
  now: Instant,
}

impl Cluster {
  fn new(ids: &[&str], now: Instant) -> Self {
    let nodes = ids
      .iter()
      .map(|id| Some(Election::new(meta(id), &opts(), now)))
      .collect();
    Self {
      nodes,
      elected: vec![Vec::new(); ids.len()],
      now,
    }
  }

  fn add(&mut self, id: &str) {
    self
      .nodes
      .push(Some(Election::new(meta(id), &opts(), self.now)));
    self.elected.push(Vec::new());
  }

  fn deliver(&mut self, from: usize, out: Vec<Action>) {
    let mut queue: std::collections::VecDeque<(usize, Action)> =
      out.into_iter().map(|a| (from, a)).collect();
    let mut steps = 0;
    while let Some((who, action)) = queue.pop_front() {
      steps += 1;
      assert!(steps < 10_000, "datagram storm");
      match action {
        Action::Elected(m) => self.elected[who].push(m),
        Action::Send(dg) => {
          let dg = parse(&encode(&dg)).unwrap();
          for i in 0..self.nodes.len() {
            let mut out = Vec::new();
            if let Some(n) = self.nodes[i].as_mut() {
              n.handle_incoming(dg.clone(), self.now, &mut out);
            }
            queue.extend(out.into_iter().map(|a| (i, a)));
          }
        }
      }
    }
  }

  /// Advances time in 10 ms steps, ticking every node that is due.
  fn run(&mut self, total: Duration) {
    let end = self.now + total;
    while self.now < end {
      self.now += ms(10);
      for i in 0..self.nodes.len() {
        let mut out = Vec::new();
        match self.nodes[i].as_mut() {
          Some(n) if n.next_deadline() <= self.now => n.handle_tick(self.now, &mut out),
          _ => continue,
        }
        self.deliver(i, out);
      }
    }
  }

  fn elected_ids(&self) -> Vec<Option<String>> {
    let live = self.nodes.iter().flatten();
    live.map(|n| n.elected().map(|m| m.id.clone())).collect()
  }
}

#[test]
fn single_node_elects_itself_after_election_timeout() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000001"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_tick(t0, &mut out);
  assert_eq!(sends(&out), vec![Datagram::ElectStart]);
  assert_eq!(e.next_deadline(), t0 + ms(100));
  out.clear();
  e.handle_tick(t0 + ms(199), &mut out);
  assert!(e.elected().is_none());
  e.handle_tick(t0 + ms(200), &mut out);
  assert_eq!(e.elected(), Some(&meta("9900000001")));
  assert!(e.is_elected());
  assert!(out.contains(&Action::Elected(meta("9900000001"))));
  assert!(out.contains(&Action::Send(winner("9900000001"))));
}

#[test]
fn elected_node_sends_a_heartbeat_every_period() {
  let mut c = Cluster::new(&["9900000001"], Instant::now());
  c.run(ms(300));
  let mut out = Vec::new();
  let n = c.nodes[0].as_mut().unwrap();
  let due = n.next_deadline();
  n.handle_tick(due, &mut out);
  assert_eq!(sends(&out), vec![hb("9900000001")]);
  assert_eq!(n.next_deadline(), due + ms(100));
}

#[test]
fn higher_priority_candidate_wins() {
  let low = format_id(0, 1);
  let high = format_id(5, 999_999);
  let mut c = Cluster::new(&[&low, &high, "9900000500"], Instant::now());
  c.run(ms(500));
  assert_eq!(c.elected_ids(), vec![Some(high.clone()); 3]);
  for e in &c.elected {
    assert_eq!(e.len(), 1, "one connect per node, no flapping");
  }
}

#[test]
fn incumbent_that_answers_stays_elected() {
  let mut c = Cluster::new(&["9900000005"], Instant::now());
  c.run(ms(400));
  c.add("0000000001");
  c.run(ms(1000));
  assert_eq!(c.elected_ids(), vec![Some("9900000005".into()); 2]);
  assert_eq!(c.elected[0].len(), 1);
}

#[test]
fn missing_heartbeat_starts_an_election() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000001"), t0, &mut out);
  assert_eq!(out, vec![Action::Elected(meta("9900000001"))]);
  out.clear();
  e.handle_incoming(hb("9900000001"), t0 + ms(250), &mut out);
  e.handle_tick(t0 + ms(500), &mut out);
  assert!(out.is_empty(), "heartbeat 250 ms ago is fresh");
  e.handle_tick(t0 + ms(560), &mut out);
  assert!(out.is_empty(), "checks run once per heartbeat period");
  e.handle_tick(t0 + ms(600), &mut out);
  assert_eq!(sends(&out), vec![Datagram::ElectStart]);
}

#[test]
fn master_lost_starts_an_election_immediately() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000001"), t0, &mut out);
  out.clear();
  e.handle_master_lost(t0 + ms(5), &mut out);
  assert_eq!(sends(&out), vec![Datagram::ElectStart]);
  assert!(e.elected().is_none());
  assert!(e.in_progress());
  out.clear();
  e.handle_tick(t0 + ms(205), &mut out);
  assert_eq!(e.elected(), Some(&meta("9900000002")));
}

#[test]
fn failover_in_a_cluster_takes_one_election_timeout() {
  let mut c = Cluster::new(&["9900000001", "9900000002", "9900000003"], Instant::now());
  c.run(ms(500));
  assert_eq!(c.elected_ids(), vec![Some("9900000001".into()); 3]);
  c.nodes[0] = None;
  for i in 1..3 {
    let mut out = Vec::new();
    c.nodes[i]
      .as_mut()
      .unwrap()
      .handle_master_lost(c.now, &mut out);
    c.deliver(i, out);
  }
  c.run(ms(220));
  assert_eq!(c.elected_ids(), vec![Some("9900000002".into()); 2]);
}

#[test]
fn concurrent_elections_converge() {
  let ids = ["9900000007", "9900000003", "9900000009", "9900000004"];
  let mut c = Cluster::new(&ids, Instant::now());
  // All nodes start at the same instant, so all lead an election at once.
  c.run(ms(1000));
  assert_eq!(c.elected_ids(), vec![Some("9900000003".into()); 4]);
}

#[test]
fn split_brain_heartbeats_trigger_a_new_election() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000005"), t0, &mut out);
  out.clear();
  e.handle_incoming(hb("9900000001"), t0 + ms(50), &mut out);
  assert!(
    out.is_empty(),
    "stray heartbeat right after a change is ignored"
  );
  e.handle_incoming(hb("9900000001"), t0 + ms(300), &mut out);
  assert_eq!(sends(&out), vec![Datagram::ElectStart]);
}

#[test]
fn forged_winner_with_our_id_is_ignored() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut forged = meta("9900000002");
  forged.sub_addr = "tcp://10.6.6.6:1".into();
  let mut out = Vec::new();
  e.handle_incoming(Datagram::Winner { meta: forged }, t0, &mut out);
  assert!(out.is_empty());
  assert!(e.elected().is_none());
}

#[test]
fn unreachable_winner_is_banned_and_replaced() {
  let mut c = Cluster::new(&["9900000005", "9900000006"], Instant::now());
  c.run(ms(500));
  // A hostile winner with the smallest id and addresses nobody can reach.
  let bogus = meta("0000000001");
  c.deliver(
    0,
    vec![Action::Send(Datagram::Winner {
      meta: bogus.clone(),
    })],
  );
  assert_eq!(c.elected_ids(), vec![Some(bogus.id.clone()); 2]);
  for i in 0..2 {
    let mut out = Vec::new();
    c.nodes[i]
      .as_mut()
      .unwrap()
      .handle_unreachable_winner(c.now, &mut out);
    c.deliver(i, out);
  }
  // The hostile node keeps answering as a candidate with its small id.
  c.deliver(
    0,
    vec![Action::Send(Datagram::Candidate {
      meta: bogus.clone(),
      last_elected: Some(bogus.clone()),
    })],
  );
  c.run(ms(300));
  assert_eq!(c.elected_ids(), vec![Some("9900000005".into()); 2]);
  c.deliver(0, vec![Action::Send(Datagram::Winner { meta: bogus })]);
  assert_eq!(c.elected_ids(), vec![Some("9900000005".into()); 2]);
}

#[test]
fn candidate_flood_outside_an_election_changes_nothing() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  for i in 0..5000 {
    let m = meta(&format!("00{:08}", i));
    e.handle_incoming(
      Datagram::Candidate {
        meta: m,
        last_elected: None,
      },
      t0,
      &mut out,
    );
  }
  assert!(out.is_empty());
  assert!(!e.in_progress());
}

#[test]
fn split_brain_with_a_known_smaller_master_switches_to_it_at_once() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(
    Datagram::Candidate {
      meta: meta("9900000001"),
      last_elected: None,
    },
    t0,
    &mut out,
  );
  e.handle_incoming(winner("9900000005"), t0, &mut out);
  out.clear();
  e.handle_incoming(hb("9900000005"), t0 + ms(100), &mut out);
  e.handle_incoming(hb("9900000001"), t0 + ms(150), &mut out);
  assert_eq!(sends(&out), vec![winner("9900000001")]);
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("9900000001"));
}

#[test]
fn heartbeat_of_a_worse_master_makes_us_announce_ours_again() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000003"), t0, &mut out);
  out.clear();
  e.handle_incoming(hb("9900000003"), t0 + ms(100), &mut out);
  e.handle_incoming(hb("9900000008"), t0 + ms(150), &mut out);
  assert_eq!(sends(&out), vec![winner("9900000003")]);
  // Once per heartbeat period, however many stray heartbeats come.
  out.clear();
  e.handle_incoming(hb("9900000008"), t0 + ms(160), &mut out);
  assert!(out.is_empty());
}

#[test]
fn winner_worse_than_a_live_master_is_answered_with_ours() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000003"), t0, &mut out);
  out.clear();
  e.handle_incoming(winner("9900000007"), t0 + ms(150), &mut out);
  assert_eq!(sends(&out), vec![winner("9900000003")]);
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("9900000003"));
  // A better one is taken at once; a worse one after the master went quiet is taken too.
  e.handle_incoming(winner("9900000001"), t0 + ms(200), &mut out);
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("9900000001"));
  e.handle_incoming(winner("9900000009"), t0 + ms(600), &mut out);
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("9900000009"));
}

#[test]
fn two_partitions_that_meet_settle_on_the_smaller_master_within_a_heartbeat_period() {
  let t0 = Instant::now();
  let mut a = Cluster::new(&["9900000005", "9900000006"], t0);
  let mut b = Cluster::new(&["9900000003", "9900000008"], t0);
  a.run(ms(1000));
  b.run(ms(1000));
  assert_eq!(a.elected_ids(), vec![Some("9900000005".into()); 2]);
  assert_eq!(b.elected_ids(), vec![Some("9900000003".into()); 2]);
  a.nodes.append(&mut b.nodes);
  a.elected.append(&mut b.elected);
  a.run(opts().heartbeat_period + ms(20));
  assert_eq!(a.elected_ids(), vec![Some("9900000003".into()); 4]);
  // And it stays settled.
  a.run(ms(1000));
  assert_eq!(a.elected_ids(), vec![Some("9900000003".into()); 4]);
}

#[test]
fn split_brain_with_an_unknown_smaller_master_ends_the_round_at_its_answer() {
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000002"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_incoming(winner("9900000005"), t0, &mut out);
  out.clear();
  e.handle_incoming(hb("9900000005"), t0 + ms(100), &mut out);
  e.handle_incoming(hb("9900000001"), t0 + ms(150), &mut out);
  assert_eq!(sends(&out), vec![Datagram::ElectStart]);
  out.clear();
  let answer = Datagram::Candidate {
    meta: meta("9900000001"),
    last_elected: Some(meta("9900000001")),
  };
  e.handle_incoming(answer, t0 + ms(160), &mut out);
  assert!(e.next_deadline() <= t0 + ms(160));
  e.handle_tick(t0 + ms(160), &mut out);
  assert_eq!(sends(&out), vec![winner("9900000001")]);
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("9900000001"));
}

fn original(id: &str) -> NodeMeta {
  NodeMeta {
    id: id.into(),
    sub_addr: "tcp://0.0.0.0:4001".into(),
    pub_addr: "tcp://0.0.0.0:4002".into(),
  }
}

fn elected_addr(out: &[Action]) -> Option<String> {
  out.iter().find_map(|a| match a {
    Action::Elected(m) => Some(m.sub_addr.clone()),
    Action::Send(_) => None,
  })
}

#[test]
fn a_winner_relayed_about_an_original_node_takes_that_nodes_own_host() {
  use std::net::Ipv4Addr;
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000005"), &opts(), t0);
  let (host, relay) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
  let mut out = Vec::new();
  // The original at .1 answers a candidate (about itself); later .2 announces it as winner.
  let answer = Datagram::Candidate {
    meta: original("4900000001"),
    last_elected: None,
  };
  e.handle_datagram(answer, host, t0, &mut out);
  e.handle_datagram(
    Datagram::Winner {
      meta: original("4900000001"),
    },
    relay,
    t0,
    &mut out,
  );
  assert_eq!(elected_addr(&out).as_deref(), Some("tcp://10.0.0.1:4001"));
}

#[test]
fn a_winner_whose_host_is_unknown_waits_for_that_node_to_be_heard() {
  use std::net::Ipv4Addr;
  let t0 = Instant::now();
  let mut e = Election::new(meta("9900000005"), &opts(), t0);
  let mut out = Vec::new();
  e.handle_datagram(
    Datagram::Winner {
      meta: original("4900000001"),
    },
    Ipv4Addr::new(10, 0, 0, 2),
    t0,
    &mut out,
  );
  assert!(
    out.is_empty() && e.elected().is_none(),
    "never a guess from the relay's address"
  );
  let hb = hb("4900000001");
  e.handle_datagram(hb, Ipv4Addr::new(10, 0, 0, 1), t0 + ms(50), &mut out);
  assert_eq!(elected_addr(&out).as_deref(), Some("tcp://10.0.0.1:4001"));
  assert_eq!(e.elected().map(|m| m.id.as_str()), Some("4900000001"));
}
