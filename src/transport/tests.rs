//! Socket-level tests over 127.0.0.1, ipc and inproc; every wait is bounded.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::timeout;

use super::*;

const T: Duration = Duration::from_secs(10);

fn b(s: &'static [u8]) -> Bytes {
  Bytes::from_static(s)
}

async fn wait_state(d: &Dealer, want: LinkState) {
  let mut st = d.state();
  timeout(T, st.wait_for(|s| *s == want))
    .await
    .expect("state timeout")
    .expect("state closed");
}

fn free_port() -> u16 {
  let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
  l.local_addr().unwrap().port()
}

/// Sends one multipart message dealer -> router and back, checking identity and frames.
async fn round_trip(router: &mut Router, dealer: &mut Dealer, identity: Option<&[u8]>) {
  let frames = vec![b(b""), b(b"\x00\xff\x01binary"), b(b"")];
  dealer.send(frames.clone()).unwrap();
  let got = timeout(T, router.recv())
    .await
    .expect("router recv timeout")
    .unwrap();
  if let Some(id) = identity {
    assert_eq!(&got[0][..], id);
  }
  assert_eq!(&got[1..], &frames[..]);
  let mut reply = vec![got[0].clone()];
  reply.extend(vec![b(b"reply"), b(b"")]);
  router.send(reply).unwrap();
  let back = timeout(T, dealer.recv())
    .await
    .expect("dealer recv timeout")
    .unwrap();
  assert_eq!(back, vec![b(b"reply"), b(b"")]);
}

#[tokio::test(flavor = "current_thread")]
async fn router_and_dealer_talk_over_tcp_with_identity() {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
  assert!(!ep.ends_with(":0"), "{ep}");
  let mut dealer = Dealer::connect(&ep, Some(b(b"worker-1"))).unwrap();
  round_trip(&mut router, &mut dealer, Some(b"worker-1")).await;
  assert!(dealer.is_connected());
}

#[tokio::test(flavor = "current_thread")]
async fn router_and_dealer_talk_over_tcp_with_generated_identity() {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:0").await.unwrap();
  let mut dealer = Dealer::connect(&ep, None).unwrap();
  round_trip(&mut router, &mut dealer, None).await;
}

#[tokio::test(flavor = "current_thread")]
async fn router_and_dealer_talk_over_ipc() {
  let path = std::env::temp_dir().join(format!("zmqbus-transport-{}.ipc", std::process::id()));
  let _ = std::fs::remove_file(&path);
  let ep = format!("ipc://{}", path.display());
  let mut router = Router::new();
  router.bind(&ep).await.unwrap();
  let mut dealer = Dealer::connect(&ep, Some(b(b"ipc-peer"))).unwrap();
  round_trip(&mut router, &mut dealer, Some(b"ipc-peer")).await;
  drop((router, dealer));
  let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "current_thread")]
async fn router_and_dealer_talk_over_inproc() {
  let mut router = Router::new();
  router.bind("inproc://t-rd").await.unwrap();
  let mut named = Dealer::connect("inproc://t-rd", Some(b(b"in-1"))).unwrap();
  round_trip(&mut router, &mut named, Some(b"in-1")).await;
  let mut anon = Dealer::connect("inproc://t-rd", None).unwrap();
  round_trip(&mut router, &mut anon, None).await;
}

#[tokio::test(flavor = "current_thread")]
async fn router_serves_tcp_and_inproc_at_once() {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
  router.bind("inproc://t-both").await.unwrap();
  let mut a = Dealer::connect(&ep, Some(b(b"tcp"))).unwrap();
  let mut c = Dealer::connect("inproc://t-both", Some(b(b"inp"))).unwrap();
  round_trip(&mut router, &mut a, Some(b"tcp")).await;
  round_trip(&mut router, &mut c, Some(b"inp")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_connected_before_router_binds_tcp_delivers_queued_message() {
  let port = free_port();
  let ep = format!("tcp://127.0.0.1:{port}");
  let mut dealer = Dealer::connect(&ep, Some(b(b"early"))).unwrap();
  dealer.send(vec![b(b"queued")]).unwrap();
  assert!(!dealer.is_connected());
  tokio::time::sleep(Duration::from_millis(150)).await;
  let mut router = Router::new();
  router.bind(&ep).await.unwrap();
  let got = timeout(T, router.recv()).await.unwrap().unwrap();
  assert_eq!(got, vec![b(b"early"), b(b"queued")]);
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_connected_before_router_binds_inproc_delivers_queued_message() {
  let mut dealer = Dealer::connect("inproc://t-late", Some(b(b"early"))).unwrap();
  dealer.send(vec![b(b"queued")]).unwrap();
  tokio::time::sleep(Duration::from_millis(20)).await;
  assert!(!dealer.is_connected());
  let mut router = Router::new();
  router.bind("inproc://t-late").await.unwrap();
  let got = timeout(T, router.recv()).await.unwrap().unwrap();
  assert_eq!(got, vec![b(b"early"), b(b"queued")]);
  wait_state(&dealer, LinkState::Connected).await;
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_reconnects_after_router_restarts_on_the_same_port() {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut dealer = Dealer::connect(&ep, Some(b(b"phoenix"))).unwrap();
  round_trip(&mut router, &mut dealer, Some(b"phoenix")).await;
  drop(router);
  wait_state(&dealer, LinkState::Disconnected).await;
  let mut router = Router::new();
  router.bind(&ep).await.unwrap();
  wait_state(&dealer, LinkState::Connected).await;
  round_trip(&mut router, &mut dealer, Some(b"phoenix")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_reconnects_after_inproc_router_is_rebound() {
  let mut router = Router::new();
  router.bind("inproc://t-rebind").await.unwrap();
  let mut dealer = Dealer::connect("inproc://t-rebind", Some(b(b"again"))).unwrap();
  round_trip(&mut router, &mut dealer, Some(b"again")).await;
  drop(router);
  wait_state(&dealer, LinkState::Disconnected).await;
  let mut router = Router::new();
  router.bind("inproc://t-rebind").await.unwrap();
  round_trip(&mut router, &mut dealer, Some(b"again")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn router_send_to_unknown_peer_is_unroutable() {
  let mut router = Router::new();
  assert!(matches!(
    router.send(vec![b(b"x"), b(b"y")]),
    Err(TransportError::Unroutable)
  ));
  router.bind("tcp://127.0.0.1:*").await.unwrap();
  router.bind("inproc://t-unroutable").await.unwrap();
  let e = router.send(vec![b(b"nobody"), b(b"hi")]).unwrap_err();
  assert!(matches!(e, TransportError::Unroutable), "{e:?}");
  assert_eq!(e.code(), "EHOSTUNREACH");
  assert!(matches!(
    router.send(vec![b(b"only-id")]),
    Err(TransportError::Invalid(_))
  ));
}

#[tokio::test(flavor = "current_thread")]
async fn router_send_to_full_inproc_peer_would_block() {
  let mut router = Router::new();
  router.bind("inproc://t-full").await.unwrap();
  let opts = LinkOptions {
    hwm: 2,
    ..LinkOptions::default()
  };
  let mut dealer = Dealer::connect_with("inproc://t-full", Some(b(b"slow")), opts).unwrap();
  dealer.send(vec![b(b"hello")]).unwrap();
  timeout(T, router.recv()).await.unwrap().unwrap();
  // The dealer's task forwards into its own inbound queue too, so allow for both queues.
  let mut blocked = false;
  for _ in 0..10 {
    if let Err(TransportError::WouldBlock) = router.send(vec![b(b"slow"), b(b"m")]) {
      blocked = true;
      break;
    }
  }
  assert!(blocked);
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_send_would_block_at_hwm_while_disconnected() {
  let opts = LinkOptions {
    hwm: 3,
    ..LinkOptions::default()
  };
  let mut dealer = Dealer::connect_with("inproc://t-nobody", None, opts).unwrap();
  for _ in 0..3 {
    dealer.send(vec![b(b"x")]).unwrap();
  }
  assert!(matches!(
    dealer.send(vec![b(b"x")]),
    Err(TransportError::WouldBlock)
  ));
}

async fn recv_first_frames(sub: &mut Subscriber, n: usize) -> Vec<Bytes> {
  let mut got = Vec::new();
  for _ in 0..n {
    got.push(timeout(T, sub.recv()).await.expect("sub timeout").unwrap()[0].clone());
  }
  got
}

/// Publishes until the subscriber sees the marker (subscriptions travel asynchronously).
async fn sync_pub_sub(publisher: &mut Publisher, sub: &mut Subscriber) {
  for _ in 0..200 {
    publisher.send(vec![b(b"sync")]).unwrap();
    if let Ok(Ok(m)) = timeout(Duration::from_millis(20), sub.recv()).await {
      if m[0] == b(b"sync") {
        break;
      }
    }
  }
  // Drain stray markers.
  while let Ok(Ok(_)) = timeout(Duration::from_millis(30), sub.recv()).await {}
}

async fn check_prefix_filter(publisher: &mut Publisher, sub: &mut Subscriber) {
  sub.subscribe(b"sync");
  sub.subscribe(b"news.");
  sub.subscribe(b"\x00\x01");
  sync_pub_sub(publisher, sub).await;
  for topic in [
    &b"weather"[..],
    b"news.a",
    b"new",
    b"\x00\x01bin",
    b"news.b",
  ] {
    publisher
      .send(vec![Bytes::copy_from_slice(topic), b(b"body")])
      .unwrap();
  }
  let got = recv_first_frames(sub, 3).await;
  assert_eq!(got, vec![b(b"news.a"), b(b"\x00\x01bin"), b(b"news.b")]);
  sub.unsubscribe(b"news.");
  tokio::time::sleep(Duration::from_millis(50)).await;
  publisher.send(vec![b(b"news.c")]).unwrap();
  publisher.send(vec![b(b"\x00\x01end")]).unwrap();
  assert_eq!(recv_first_frames(sub, 1).await, vec![b(b"\x00\x01end")]);
}

#[tokio::test(flavor = "current_thread")]
async fn pub_sub_prefix_filters_over_tcp() {
  let mut publisher = Publisher::new();
  let ep = publisher.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut sub = Subscriber::new();
  sub.connect(&ep).unwrap();
  check_prefix_filter(&mut publisher, &mut sub).await;
}

#[tokio::test(flavor = "current_thread")]
async fn pub_sub_prefix_filters_over_inproc() {
  let mut publisher = Publisher::new();
  publisher.bind("inproc://t-pubsub").await.unwrap();
  let mut sub = Subscriber::new();
  sub.connect("inproc://t-pubsub").unwrap();
  check_prefix_filter(&mut publisher, &mut sub).await;
}

#[tokio::test(flavor = "current_thread")]
async fn connecting_publisher_reaches_bound_subscriber_over_tcp_and_inproc() {
  let mut sub = Subscriber::new();
  let ep = sub.bind("tcp://127.0.0.1:*").await.unwrap();
  sub.bind("inproc://t-subbind").await.unwrap();
  let mut p1 = Publisher::new();
  p1.connect(&ep).unwrap();
  check_prefix_filter(&mut p1, &mut sub).await;
  let mut p2 = Publisher::new();
  p2.connect("inproc://t-subbind").unwrap();
  sync_pub_sub(&mut p2, &mut sub).await;
  p2.send(vec![b(b"\x00\x01p2")]).unwrap();
  assert_eq!(recv_first_frames(&mut sub, 1).await, vec![b(b"\x00\x01p2")]);
}

#[tokio::test(flavor = "current_thread")]
async fn publisher_drops_and_counts_at_hwm() {
  let opts = LinkOptions {
    hwm: 4,
    ..LinkOptions::default()
  };
  let mut publisher = Publisher::with_options(opts);
  publisher.connect("inproc://t-nosub").unwrap();
  for _ in 0..10 {
    publisher.send(vec![b(b"x")]).unwrap();
  }
  assert_eq!(publisher.dropped(), 6);
}

async fn check_round_robin(push: &mut Push, pulls: &mut [Pull]) {
  for i in 0..8u8 {
    push.send(vec![Bytes::from(vec![i])]).unwrap();
  }
  for pull in pulls.iter_mut() {
    let mut got = Vec::new();
    for _ in 0..4 {
      got.push(
        timeout(T, pull.recv())
          .await
          .expect("pull timeout")
          .unwrap()[0][0],
      );
    }
    assert!(got == [0, 2, 4, 6] || got == [1, 3, 5, 7], "{got:?}");
  }
}

#[tokio::test(flavor = "current_thread")]
async fn push_round_robins_over_two_pulls_tcp_and_inproc() {
  let mut tcp = Pull::new();
  let ep = tcp.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut inp = Pull::new();
  inp.bind("inproc://t-pull").await.unwrap();
  let mut push = Push::new();
  push.connect(&ep).unwrap();
  push.connect("inproc://t-pull").unwrap();
  check_round_robin(&mut push, &mut [tcp, inp]).await;
}

#[tokio::test(flavor = "current_thread")]
async fn bound_push_feeds_a_connecting_pull() {
  let mut push = Push::new();
  let ep = push.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut pull = Pull::new();
  pull.connect(&ep).unwrap();
  push.send(vec![b(b"work")]).unwrap();
  assert_eq!(
    timeout(T, pull.recv()).await.unwrap().unwrap(),
    vec![b(b"work")]
  );
}

#[tokio::test(flavor = "current_thread")]
async fn push_without_links_would_block() {
  let mut push = Push::new();
  assert!(matches!(
    push.send(vec![b(b"x")]),
    Err(TransportError::WouldBlock)
  ));
}

#[tokio::test(flavor = "current_thread")]
async fn recv_is_cancel_safe_inside_select() {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut dealer = Dealer::connect(&ep, Some(b(b"sel"))).unwrap();
  let mut seen = 0;
  let mut sent = 0;
  let mut tick = tokio::time::interval(Duration::from_micros(200));
  while seen < 200 {
    if sent < 200 && dealer.send(vec![Bytes::from(vec![sent as u8])]).is_ok() {
      sent += 1;
    }
    tokio::select! {
      m = router.recv() => { assert_eq!(m.unwrap()[1][0], seen as u8); seen += 1; }
      _ = tick.tick() => {}
    }
  }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_dealer_ends_its_task_and_frees_the_inproc_name() {
  {
    let mut r = Router::new();
    r.bind("inproc://t-drop").await.unwrap();
    let d = Dealer::connect("inproc://t-drop", None).unwrap();
    let mut st = d.state();
    drop(d);
    // The task was aborted: its state sender is gone.
    assert!(timeout(T, st.changed()).await.unwrap().is_err());
  }
  let mut r = Router::new();
  assert!(r.bind("inproc://t-drop").await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn dealer_router_echo_never_stalls_with_a_thousand_in_flight() {
  use std::time::{Duration, Instant};
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await.unwrap();
  tokio::spawn(async move {
    while let Ok(m) = router.recv().await {
      let _ = router.send(m);
    }
  });
  let mut dealer = Dealer::connect(&ep, Some(Bytes::from_static(b"stall"))).unwrap();
  let total = 50_000usize;
  let mut sent_at = std::collections::VecDeque::new();
  let (mut sent, mut got, mut worst) = (0usize, 0usize, Duration::ZERO);
  while sent < 1000 {
    dealer.send(vec![Bytes::from(sent.to_string())]).unwrap();
    sent_at.push_back(Instant::now());
    sent += 1;
  }
  while got < total {
    let m = tokio::time::timeout(Duration::from_secs(5), dealer.recv())
      .await
      .expect("stalled 5 s")
      .unwrap();
    assert_eq!(m.len(), 1);
    let t = sent_at.pop_front().unwrap();
    worst = worst.max(t.elapsed());
    got += 1;
    if sent < total {
      dealer.send(vec![Bytes::from(sent.to_string())]).unwrap();
      sent_at.push_back(Instant::now());
      sent += 1;
    }
  }
  assert!(
    worst < Duration::from_millis(500),
    "worst round trip {worst:?}"
  );
}
