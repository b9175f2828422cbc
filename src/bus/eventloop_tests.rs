//! Integration tests: whole nodes in one process, on a loopback-only cluster
//! (multicast on 127.0.0.1 with TTL 0) with a fresh group and port per test.

use super::*;
use rand::Rng;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::sync::oneshot;

struct TestNode {
  handle: NodeHandle,
  events: mpsc::UnboundedReceiver<NodeEvent>,
}

fn cluster_opts() -> NodeOptions {
  let mut rng = rand::thread_rng();
  NodeOptions {
    election_timeout: Duration::from_millis(300),
    heartbeat_period: Duration::from_millis(100),
    heartbeat_timeout: Duration::from_millis(600),
    multicast_addr: Ipv4Addr::new(239, 255, rng.gen_range(1..255), rng.gen_range(1..255)),
    multicast_port: rng.gen_range(20_000..60_000),
    multicast_interface: Ipv4Addr::LOCALHOST,
    ..NodeOptions::default()
  }
}

fn start(opts: &NodeOptions, priority: u8) -> TestNode {
  let (tx, events) = mpsc::unbounded_channel();
  let opts = NodeOptions {
    election_priority: priority,
    ..opts.clone()
  };
  let handle = spawn_node(opts, tx).unwrap();
  TestNode { handle, events }
}

impl TestNode {
  fn send(&self, cmd: NodeCommand) {
    self.handle.commands.send(cmd).unwrap();
  }

  fn publish(&self, frames: &[&str]) {
    let frames = frames
      .iter()
      .map(|f| Bytes::copy_from_slice(f.as_bytes()))
      .collect();
    self.send(NodeCommand::Publish(frames));
  }

  /// The next event matching `pred`, skipping others, within 5 s.
  async fn wait_for(&mut self, pred: impl Fn(&NodeEvent) -> bool) -> NodeEvent {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
      loop {
        match self.events.recv().await {
          Some(ev) if pred(&ev) => return ev,
          Some(_) => {}
          None => panic!("node task ended"),
        }
      }
    });
    found.await.expect("event not seen within 5 s")
  }

  async fn wait_message(&mut self) -> Vec<String> {
    let ev = self.wait_for(|e| matches!(e, NodeEvent::Message(_))).await;
    let NodeEvent::Message(frames) = ev else {
      unreachable!()
    };
    frames
      .iter()
      .map(|f| String::from_utf8_lossy(f).into_owned())
      .collect()
  }

  async fn stop(self) {
    let (ack, done) = oneshot::channel();
    self.send(NodeCommand::Stop(ack));
    tokio::time::timeout(Duration::from_secs(5), done)
      .await
      .unwrap()
      .unwrap();
  }
}

fn is_ready(e: &NodeEvent) -> bool {
  *e == NodeEvent::Ready
}

#[tokio::test]
async fn single_node_becomes_ready_and_receives_its_own_messages() {
  let opts = cluster_opts();
  let mut a = start(&opts, 0);
  a.send(NodeCommand::Subscribe(Bytes::from_static(b"equity")));
  // Published before ready: buffered, then delivered through the forwarder.
  a.publish(&["equity", "AAPL", "500"]);
  let ev = a.wait_for(|e| matches!(e, NodeEvent::Elected { .. })).await;
  assert_eq!(
    ev,
    NodeEvent::Elected {
      id: a.handle.meta.id.clone(),
      is_me: true
    }
  );
  a.wait_for(is_ready).await;
  // The subscription may reach the forwarder after the buffered publish.
  let got = loop {
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), a.wait_message()).await {
      break m;
    }
    a.publish(&["equity", "AAPL", "500"]);
  };
  assert_eq!(got, ["equity", "AAPL", "500"]);
  a.stop().await;
}

#[tokio::test]
async fn buffer_overflow_is_reported_as_dropped() {
  let opts = NodeOptions {
    publish_buffer: 2,
    ..cluster_opts()
  };
  let mut a = start(&opts, 0);
  let batch = (0..5).map(|_| vec![Bytes::from_static(b"ch")]).collect();
  a.send(NodeCommand::PublishBatch(batch));
  let ev = a.wait_for(|e| matches!(e, NodeEvent::Dropped { .. })).await;
  assert_eq!(ev, NodeEvent::Dropped { count: 3 });
  a.stop().await;
}

#[tokio::test]
async fn three_nodes_elect_deliver_by_exact_channel_and_fail_over() {
  let opts = cluster_opts();
  let mut a = start(&opts, 2);
  let mut b = start(&opts, 1);
  let mut c = start(&opts, 0);
  let a_id = a.handle.meta.id.clone();
  for n in [&mut a, &mut b, &mut c] {
    let is_me = n.handle.meta.id == a_id;
    let ev = n.wait_for(|e| matches!(e, NodeEvent::Elected { .. })).await;
    assert_eq!(
      ev,
      NodeEvent::Elected {
        id: a_id.clone(),
        is_me
      },
      "highest priority wins"
    );
    n.wait_for(is_ready).await;
  }
  b.send(NodeCommand::Subscribe(Bytes::from_static(b"equity")));
  c.send(NodeCommand::Subscribe(Bytes::from_static(b"*")));

  // Wait until both subscriptions have reached the forwarder.
  for _ in 0..50 {
    a.publish(&["equity", "probe"]);
    let got_b = tokio::time::timeout(Duration::from_millis(100), b.wait_message()).await;
    if got_b.is_ok() {
      break;
    }
  }
  tokio::time::sleep(Duration::from_millis(100)).await;
  while b.events.try_recv().is_ok() {}
  while c.events.try_recv().is_ok() {}

  a.publish(&["equity2", "x"]);
  a.publish(&["equity", "AAPL", "500"]);
  assert_eq!(
    b.wait_message().await,
    ["equity", "AAPL", "500"],
    "no prefix match"
  );
  assert_eq!(c.wait_message().await, ["equity2", "x"]);
  assert_eq!(c.wait_message().await, ["equity", "AAPL", "500"]);

  // Failover: the elected node stops, the others see the connection drop.
  let t0 = std::time::Instant::now();
  a.stop().await;
  let b_id = b.handle.meta.id.clone();
  for n in [&mut b, &mut c] {
    let want = NodeEvent::Elected {
      id: b_id.clone(),
      is_me: n.handle.meta.id == b_id,
    };
    n.wait_for(|e| *e == want).await;
  }
  let took = t0.elapsed();
  eprintln!("failover took {took:?}");
  assert!(
    took < opts.election_timeout + Duration::from_millis(400),
    "failover took {took:?}"
  );

  let mut got = None;
  for _ in 0..50 {
    c.publish(&["equity", "after"]);
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(100), b.wait_message()).await {
      got = Some(m);
      break;
    }
  }
  assert_eq!(got.unwrap(), ["equity", "after"]);
  b.stop().await;
  c.stop().await;
}

/// Sends raw datagrams to the test group, on loopback only (TTL 0).
fn inject(opts: &NodeOptions, payloads: &[&[u8]]) {
  let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
  s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
  s.set_multicast_ttl_v4(0).unwrap();
  let dest = SocketAddrV4::new(opts.multicast_addr, opts.multicast_port);
  for p in payloads {
    s.send_to(p, &dest.into()).unwrap();
  }
}

#[tokio::test]
async fn hostile_winner_with_dead_addresses_does_not_kill_the_cluster() {
  let opts = NodeOptions {
    connect_timeout: Duration::from_millis(300),
    ..cluster_opts()
  };
  let mut a = start(&opts, 1);
  let mut b = start(&opts, 0);
  for n in [&mut a, &mut b] {
    n.wait_for(is_ready).await;
  }
  // A port that was just free: connecting to it is refused.
  let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
  let dead_port = dead.local_addr().unwrap().port();
  drop(dead);
  let winner = format!(
    r#"["elect","winner",{{"id":"0000000001","sub_addr":"tcp://127.0.0.1:{dead_port}","pub_addr":"tcp://127.0.0.1:{dead_port}"}}]"#
  );
  let big = vec![b'['; 9000];
  inject(
    &opts,
    &[b"garbage", &big, br#"["hb","x"]"#, winner.as_bytes()],
  );
  let a_id = a.handle.meta.id.clone();
  for n in [&mut a, &mut b] {
    let hostile = NodeEvent::Elected {
      id: "0000000001".into(),
      is_me: false,
    };
    n.wait_for(|e| *e == hostile).await;
    n.wait_for(|e| matches!(e, NodeEvent::Elected { id, .. } if *id == a_id))
      .await;
  }
  b.send(NodeCommand::Subscribe(Bytes::from_static(b"ch")));
  let mut got = None;
  for _ in 0..50 {
    a.publish(&["ch", "back"]);
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(100), b.wait_message()).await {
      got = Some(m);
      break;
    }
  }
  assert_eq!(got.unwrap(), ["ch", "back"]);
  a.stop().await;
  b.stop().await;
}

#[tokio::test]
async fn a_burst_of_publishes_arrives_complete() {
  let opts = NodeOptions {
    publish_buffer: 100_000,
    ..cluster_opts()
  };
  let mut a = start(&opts, 1);
  let mut b = start(&opts, 0);
  for n in [&mut a, &mut b] {
    n.wait_for(is_ready).await;
  }
  b.send(NodeCommand::Subscribe(Bytes::from_static(b"equity")));
  for _ in 0..50 {
    a.publish(&["equity", "probe"]);
    if tokio::time::timeout(Duration::from_millis(100), b.wait_message())
      .await
      .is_ok()
    {
      break;
    }
  }
  tokio::time::sleep(Duration::from_millis(100)).await;
  while b.events.try_recv().is_ok() {}
  let total = 100_000;
  // Packed like the JS facade does, in several batches.
  let mut w = crate::boundary::batch::BatchWriter::default();
  for i in 0..total {
    w.push(
      crate::bus::sink::command::PUBLISH,
      &[&b"equity"[..], b"AAPL", format!("{i}").as_bytes()],
    );
    if w.len() > 256 * 1024 {
      a.send(NodeCommand::Batch(Bytes::from(w.take())));
    }
  }
  a.send(NodeCommand::Batch(Bytes::from(w.take())));
  let mut got = 0;
  let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
  while got < total {
    match tokio::time::timeout_at(deadline, b.events.recv()).await {
      Ok(Some(NodeEvent::Message(_))) => got += 1,
      Ok(Some(other)) => eprintln!("event {other:?}"),
      _ => break,
    }
  }
  assert_eq!(got, total);
  a.stop().await;
  b.stop().await;
}

fn keyed_opts(base: &NodeOptions, key: &str) -> NodeOptions {
  let derived = NodeOptions::from_json(&serde_json::json!({ "cluster_key": key })).unwrap();
  NodeOptions {
    cluster_key: derived.cluster_key,
    security: derived.security,
    ..base.clone()
  }
}

#[tokio::test]
async fn keyed_nodes_elect_each_other_and_refuse_a_node_with_another_key() {
  let base = cluster_opts();
  let mut a = start(&keyed_opts(&base, "0123456789abcdef cluster"), 5);
  let mut b = start(&keyed_opts(&base, "0123456789abcdef cluster"), 1);
  let a_id = a.handle.meta.id.clone();
  b.wait_for(|e| matches!(e, NodeEvent::Elected { id, .. } if *id == a_id))
    .await;
  b.wait_for(is_ready).await;
  b.send(NodeCommand::Subscribe(Bytes::from_static(b"k")));
  // Over CURVE with the derived pair: the subscription may take a moment.
  let got = loop {
    a.publish(&["k", "sealed"]);
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), b.wait_message()).await {
      break m;
    }
  };
  assert_eq!(got, ["k", "sealed"]);

  let mut w = start(&keyed_opts(&base, "another key, 0123456789"), 99);
  let w_id = w.handle.meta.id.clone();
  w.wait_for(|e| matches!(e, NodeEvent::Elected { is_me: true, .. }))
    .await;
  a.wait_for(|e| {
    matches!(
      e,
      NodeEvent::Refused {
        reason: "forged",
        ..
      }
    )
  })
  .await;
  let followed = tokio::time::timeout(
    Duration::from_secs(1),
    b.wait_for(|e| matches!(e, NodeEvent::Elected { id, .. } if *id == w_id)),
  )
  .await;
  assert!(followed.is_err(), "a node with another key was elected");
  for n in [a, b, w] {
    n.stop().await;
  }
}
