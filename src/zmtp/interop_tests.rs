//! Byte-level interop: our sans-IO session driven over a real `tokio::net::TcpStream` on 127.0.0.1 against the
//! `zeromq` crate (a ZMTP 3.0, NULL-only implementation), in both directions, with multipart messages.
//! The driver here is a test harness only: it reads into the session's spare capacity and writes its output.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use zeromq::{DealerSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

use super::greeting::Version;
use super::session::{Event, Session, SessionConfig};
use super::testdriver::{self, End};

const T: Duration = Duration::from_secs(5);

/// Drives the session until `want` events have arrived, failing the test on anything else.
async fn drive(stream: &mut TcpStream, s: &mut Session, want: usize) -> Vec<Event> {
  let (events, end) = testdriver::drive(stream, s, want, T).await;
  assert_eq!(end, End::Events, "events so far {events:?}");
  events
}

fn frames(msg: ZmqMessage) -> Vec<Bytes> {
  msg.into_vec()
}

fn b(s: &'static [u8]) -> Bytes {
  Bytes::from_static(s)
}

#[tokio::test(flavor = "current_thread")]
async fn our_dealer_connects_to_the_crates_router_and_exchanges_multipart() {
  let mut router = RouterSocket::new();
  let ep = router
    .bind("tcp://127.0.0.1:0")
    .await
    .expect("bind")
    .to_string();
  let addr = ep.trim_start_matches("tcp://");
  let mut stream = timeout(T, TcpStream::connect(addr))
    .await
    .expect("connect timed out")
    .expect("connect");
  let config = SessionConfig {
    identity: b(b"our-dealer"),
    ..SessionConfig::new("DEALER")
  };
  let mut s = Session::new(config, Instant::now());
  let events = drive(&mut stream, &mut s, 1).await;
  let Event::Ready(peer) = &events[0] else {
    panic!("{events:?}")
  };
  assert_eq!(
    (peer.socket_type.as_str(), peer.version),
    ("ROUTER", Version::V30)
  );

  s.send_message(&[b(b""), b(b"hello"), b(&[0u8; 300])])
    .unwrap();
  stream.write_all(&s.take_output()).await.unwrap();
  let got = frames(
    timeout(T, router.recv())
      .await
      .expect("router recv timed out")
      .unwrap(),
  );
  assert_eq!(
    got[0],
    b(b"our-dealer"),
    "the crate's ROUTER uses our Identity as routing id"
  );
  assert_eq!(&got[1..], &[b(b""), b(b"hello"), b(&[0u8; 300])]);

  let reply = ZmqMessage::try_from(vec![got[0].clone(), b(b"reply"), b(b"")]).unwrap();
  timeout(T, router.send(reply))
    .await
    .expect("router send timed out")
    .unwrap();
  let events = drive(&mut stream, &mut s, 1).await;
  assert_eq!(events, vec![Event::Message(vec![b(b"reply"), b(b"")])]);
}

#[tokio::test(flavor = "current_thread")]
async fn the_crates_dealer_connects_to_our_listening_router_and_exchanges_multipart() {
  let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
  let port = listener.local_addr().unwrap().port();
  // The crate's connect() waits for the handshake, so its side runs in a task of its own.
  let crate_side = tokio::spawn(async move {
    let mut dealer = DealerSocket::new();
    timeout(T, dealer.connect(&format!("tcp://127.0.0.1:{port}")))
      .await
      .expect("connect timed out")
      .unwrap();
    let hello = ZmqMessage::try_from(vec![b(b"a"), b(b""), b(b"c")]).unwrap();
    timeout(T, dealer.send(hello))
      .await
      .expect("dealer send timed out")
      .unwrap();
    frames(
      timeout(T, dealer.recv())
        .await
        .expect("dealer recv timed out")
        .unwrap(),
    )
  });
  let (mut stream, _) = timeout(T, listener.accept())
    .await
    .expect("accept timed out")
    .unwrap();
  let mut s = Session::new(SessionConfig::new("ROUTER"), Instant::now());
  let events = drive(&mut stream, &mut s, 2).await;
  let Event::Ready(peer) = &events[0] else {
    panic!("{events:?}")
  };
  assert_eq!(peer.socket_type, "DEALER");
  assert_eq!(events[1], Event::Message(vec![b(b"a"), b(b""), b(b"c")]));

  let big = Bytes::from(vec![7u8; 70_000]);
  s.send_message(&[b(b"x"), big.clone()]).unwrap();
  stream.write_all(&s.take_output()).await.unwrap();
  let got = timeout(T, crate_side)
    .await
    .expect("crate side timed out")
    .unwrap();
  assert_eq!(got, vec![b(b"x"), big]);
}
