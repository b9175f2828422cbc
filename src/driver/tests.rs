//! Driver tests over real sockets on 127.0.0.1 and ipc, against our own connecting DEALER and raw hostile
//! bytes. Every wait is bounded.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::*;
use crate::transport::{Msg, TransportError};
use tokio::sync::mpsc;

/// Our connecting DEALER in a task of its own, so a test can wait on the ROUTER alone while it connects and
/// writes (as a peer in another process would). Dropping it closes its connection.
struct Dealer {
  tx: mpsc::UnboundedSender<Msg>,
  rx: mpsc::UnboundedReceiver<Msg>,
  task: tokio::task::JoinHandle<()>,
}

impl Dealer {
  fn connect(ep: &str, identity: Option<Bytes>) -> Result<Self, TransportError> {
    let mut config = ServerConfig::default();
    config.session.socket_type = "DEALER".into();
    config.session.identity = identity.unwrap_or_default();
    let mut dealer = super::dealer::Dealer::connect(ep, config, 1000)?;
    let (tx, mut commands) = mpsc::unbounded_channel::<Msg>();
    let (out, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
      loop {
        tokio::select! {
          m = commands.recv() => match m {
            Some(m) => {
              dealer.send(m).expect("queued");
              dealer.flush();
            }
            None => return,
          },
          ev = dealer.recv() => {
            if let super::dealer::DealerEvent::Message(m) = ev {
              let _ = out.send(m);
            }
          }
        }
      }
    });
    Ok(Self { tx, rx, task })
  }

  fn send(&mut self, msg: Msg) -> Result<(), TransportError> {
    self.tx.send(msg).map_err(|_| TransportError::Closed)
  }

  async fn recv(&mut self) -> Result<Msg, TransportError> {
    self.rx.recv().await.ok_or(TransportError::Closed)
  }
}

impl Drop for Dealer {
  fn drop(&mut self) {
    self.task.abort();
  }
}
use crate::zmtp::greeting::{self, MechanismName};

const T: Duration = Duration::from_secs(10);

fn b(s: &'static [u8]) -> Bytes {
  Bytes::from_static(s)
}

async fn bound(config: ServerConfig, ep: &str) -> (Router, String) {
  let mut router = Router::new(config);
  let ep = router.bind(ep).await.unwrap();
  (router, ep)
}

/// The next message, skipping peer events.
async fn next_message(router: &mut Router) -> Vec<Bytes> {
  timeout(T, async {
    loop {
      if let Recv::Message(m) = router.recv().await {
        return m;
      }
    }
  })
  .await
  .expect("router recv timeout")
}

async fn next_gone(router: &mut Router) -> Bytes {
  timeout(T, async {
    loop {
      if let Recv::Gone(id) = router.recv().await {
        return id;
      }
    }
  })
  .await
  .expect("no gone event")
}

async fn round_trip(router: &mut Router, dealer: &mut Dealer, body: Bytes) -> Bytes {
  dealer.send(vec![b(b"hello"), body.clone()]).unwrap();
  let got = next_message(router).await;
  assert_eq!(&got[1..], &[b(b"hello"), body.clone()]);
  router.send(vec![got[0].clone(), body.clone()]).unwrap();
  router.flush();
  let mut back = Vec::new();
  timeout(T, async {
    while back.is_empty() {
      tokio::select! {
        m = dealer.recv() => back = m.unwrap(),
        _ = router.recv() => {}
      }
    }
  })
  .await
  .expect("dealer recv timeout");
  assert_eq!(back, vec![body]);
  got[0].clone()
}

#[tokio::test(flavor = "current_thread")]
async fn a_dealer_with_an_identity_round_trips_and_its_close_is_seen_at_once() {
  let (mut router, ep) = bound(ServerConfig::default(), "tcp://127.0.0.1:*").await;
  assert!(!ep.ends_with(":0"), "{ep}");
  let mut dealer = Dealer::connect(&ep, Some(b(b"worker-1"))).unwrap();
  let id = round_trip(&mut router, &mut dealer, b(b"x")).await;
  assert_eq!(id, b(b"worker-1"));
  let big = Bytes::from(vec![7u8; 3 << 20]);
  round_trip(&mut router, &mut dealer, big).await;
  drop(dealer);
  let started = std::time::Instant::now();
  assert_eq!(next_gone(&mut router).await, b(b"worker-1"));
  assert!(started.elapsed() < Duration::from_secs(1));
  assert_eq!(router.stats().active, 0);
  assert_eq!(
    router
      .send(vec![b(b"worker-1"), b(b"x")])
      .unwrap_err()
      .code(),
    "EHOSTUNREACH"
  );
}

#[tokio::test(flavor = "current_thread")]
async fn an_anonymous_dealer_over_ipc_gets_a_generated_five_byte_id() {
  let path = std::env::temp_dir().join(format!("zmqbus-drv-{}.sock", std::process::id()));
  let ep = format!("ipc://{}", path.display());
  let (mut router, _) = bound(ServerConfig::default(), &ep).await;
  let mut dealer = Dealer::connect(&ep, None).unwrap();
  let id = round_trip(&mut router, &mut dealer, b(b"y")).await;
  assert_eq!((id.len(), id[0]), (5, 0));
  router.close();
  assert!(!path.exists(), "the ipc file is removed on close");
}

#[tokio::test(flavor = "current_thread")]
async fn an_inproc_peer_that_goes_away_is_reported_gone() {
  let (mut router, ep) = bound(ServerConfig::default(), "inproc://drv-gone").await;
  let mut dealer = Dealer::connect(&ep, Some(b(b"ip"))).unwrap();
  round_trip(&mut router, &mut dealer, b(b"z")).await;
  drop(dealer);
  assert_eq!(next_gone(&mut router).await, b(b"ip"));
}

#[tokio::test(flavor = "current_thread")]
async fn many_messages_in_flight_all_arrive_in_order() {
  let (mut router, ep) = bound(ServerConfig::default(), "tcp://127.0.0.1:*").await;
  let mut dealer = Dealer::connect(&ep, Some(b(b"d"))).unwrap();
  round_trip(&mut router, &mut dealer, b(b"warm")).await;
  let n = 900u32;
  for i in 0..n {
    router
      .send(vec![b(b"d"), Bytes::from(i.to_be_bytes().to_vec())])
      .unwrap();
  }
  router.flush();
  timeout(T, async {
    let mut next = 0u32;
    while next < n {
      tokio::select! {
        m = dealer.recv() => {
          let m = m.unwrap();
          assert_eq!(&m[0][..], &next.to_be_bytes());
          next += 1;
        }
        _ = router.recv() => {}
      }
    }
  })
  .await
  .expect("all messages");
}

/// Connects raw, sends `bytes`, and waits until the server closes the connection.
async fn send_raw_until_closed(ep: &str, bytes: &[u8]) {
  let addr = ep.trim_start_matches("tcp://");
  let mut s = TcpStream::connect(addr).await.unwrap();
  s.write_all(bytes).await.unwrap();
  let mut sink = [0u8; 256];
  let closed = timeout(T, async {
    loop {
      match s.read(&mut sink).await {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
      }
    }
  });
  closed.await.expect("server did not close the connection");
}

#[tokio::test(flavor = "current_thread")]
async fn a_frame_announcing_two_to_the_forty_bytes_closes_only_that_connection() {
  let (mut router, ep) = bound(ServerConfig::default(), "tcp://127.0.0.1:*").await;
  let mut dealer = Dealer::connect(&ep, Some(b(b"ok"))).unwrap();
  round_trip(&mut router, &mut dealer, b(b"1")).await;
  let mut attack = greeting::encode(MechanismName::Null, false).to_vec();
  attack.push(0x06);
  attack.extend_from_slice(&(1u64 << 40).to_be_bytes());
  let (_, ()) = tokio::join!(
    async {
      let _ = timeout(Duration::from_secs(2), router.recv()).await;
    },
    send_raw_until_closed(&ep, &attack)
  );
  round_trip(&mut router, &mut dealer, b(b"2")).await;
  let stats = router.stats();
  assert_eq!(stats.refused.get("frame_too_large"), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn connections_past_the_handshake_cap_evict_the_oldest_and_slow_ones_time_out() {
  let mut config = ServerConfig {
    max_pending: 2,
    ..ServerConfig::default()
  };
  config.session.limits.handshake_timeout = Duration::from_millis(300);
  let (mut router, ep) = bound(config, "tcp://127.0.0.1:*").await;
  let addr = ep.trim_start_matches("tcp://").to_string();
  let mut silent = Vec::new();
  for _ in 0..3 {
    silent.push(TcpStream::connect(&addr).await.unwrap());
  }
  let _ = timeout(Duration::from_millis(800), router.recv()).await;
  let stats = router.stats();
  assert_eq!(stats.refused.get("pending_evicted"), Some(&1), "{stats:?}");
  assert_eq!(
    stats.refused.get("handshake_timeout"),
    Some(&2),
    "{stats:?}"
  );
  assert_eq!((stats.active, stats.handshaking), (0, 0));
  let mut dealer = Dealer::connect(&ep, Some(b(b"late"))).unwrap();
  round_trip(&mut router, &mut dealer, b(b"3")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn localhost_binds_the_ipv4_loopback_as_libzmq_does() {
  let (mut router, ep) = bound(ServerConfig::default(), "tcp://localhost:*").await;
  assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
  let mut dealer = Dealer::connect(&ep, Some(b(b"lh"))).unwrap();
  round_trip(&mut router, &mut dealer, b(b"v4")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn bind_now_binds_tcp_ipc_and_inproc_at_once_and_refuses_a_live_ipc_path() {
  let mut server = Server::router(ServerConfig::default());
  let tcp = server
    .bind_now(&"tcp://127.0.0.1:0".parse().unwrap())
    .unwrap();
  assert!(tcp.starts_with("tcp://127.0.0.1:") && !tcp.ends_with(":0"));
  let path = std::env::temp_dir().join(format!("zmqbus-bind-now-{}", std::process::id()));
  let ipc: crate::transport::Endpoint = format!("ipc://{}", path.display()).parse().unwrap();
  // A stale socket file (no listener behind it) is replaced, as libzmq does.
  drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
  assert!(path.exists());
  assert_eq!(server.bind_now(&ipc).unwrap(), ipc.to_string());
  // A live listener there is refused.
  let mut other = Server::router(ServerConfig::default());
  assert!(matches!(
    other.bind_now(&ipc),
    Err(TransportError::AddrInUse(_))
  ));
  let inproc = format!("inproc://bind-now-{}", std::process::id());
  assert_eq!(server.bind_now(&inproc.parse().unwrap()).unwrap(), inproc);
  // Its listeners answer: a connect to the tcp one is accepted.
  let _peer = TcpStream::connect(tcp.trim_start_matches("tcp://"))
    .await
    .unwrap();
  let accepted = timeout(Duration::from_secs(5), async {
    loop {
      let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(server.poll_io(cx))).await;
      if server.stats().accepted > 0 {
        return;
      }
      tokio::time::sleep(Duration::from_millis(1)).await;
    }
  })
  .await;
  assert!(accepted.is_ok(), "the tcp listener accepted nothing");
  server.close();
  assert!(!path.exists(), "the ipc file is removed with its listener");
}
