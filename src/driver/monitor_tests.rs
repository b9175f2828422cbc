//! Monitor events over real sockets on loopback: what a bind, an accept, a lost peer, an unbind and a
//! failing connect report, with libzmq's values. Every wait is bounded.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use tokio::time::timeout;

use super::*;
use crate::transport::Endpoint;
use crate::zmtp::socket::RouterState;

const T: Duration = Duration::from_secs(10);

fn monitored(reconnect_ms: u64) -> Server<RouterState> {
  let config = ServerConfig {
    reconnect_ivl: Duration::from_millis(reconnect_ms),
    ..ServerConfig::default()
  };
  let mut server = Server::router(config);
  server.set_monitor(true);
  server
}

/// Polls `server` until it has reported a monitor event of `kind`; returns the events up to it.
async fn until(server: &mut Server<RouterState>, kind: PeerEventKind) -> Vec<PeerEvent> {
  let mut seen = Vec::new();
  timeout(
    T,
    poll_fn(|cx| {
      while let Poll::Ready(ev) = server.poll_event(cx) {
        drop(ev);
      }
      while let Some(ev) = server.take_peer_event() {
        let last = ev.kind == kind;
        seen.push(ev);
        if last {
          return Poll::Ready(());
        }
      }
      Poll::Pending
    }),
  )
  .await
  .unwrap_or_else(|_| panic!("no {kind:?} event; saw {seen:?}"));
  seen
}

#[tokio::test(flavor = "current_thread")]
async fn a_bind_reports_listening_accepted_disconnected_and_closed_with_the_fds() {
  let mut server = monitored(100);
  let ep = server
    .bind(&Endpoint::parse("tcp://127.0.0.1:*").unwrap())
    .await
    .unwrap();
  let listening = server.take_peer_event().expect("a listening event");
  assert_eq!(listening.kind, PeerEventKind::Listening);
  assert_eq!(listening.endpoint, ep);
  assert!(listening.value >= 0);

  let addr = ep.trim_start_matches("tcp://").to_string();
  let peer = std::net::TcpStream::connect(&addr).unwrap();
  let accepted = until(&mut server, PeerEventKind::Accepted)
    .await
    .pop()
    .unwrap();
  assert_eq!(accepted.endpoint, ep);
  assert!(accepted.value >= 0 && accepted.value != listening.value);

  drop(peer);
  let gone = until(&mut server, PeerEventKind::Disconnected)
    .await
    .pop()
    .unwrap();
  assert_eq!(
    (gone.value, gone.endpoint.as_str()),
    (accepted.value, ep.as_str())
  );

  assert!(server.unbind(&ep));
  let closed = server.take_peer_event().expect("a closed event");
  assert_eq!(closed.kind, PeerEventKind::Closed);
  assert_eq!((closed.value, closed.endpoint), (listening.value, ep));
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_connect_is_delayed_then_closed_then_retried_after_the_interval() {
  // A port nothing listens on: bind then drop a listener to get one.
  let port = std::net::TcpListener::bind("127.0.0.1:0")
    .unwrap()
    .local_addr()
    .unwrap()
    .port();
  let ep = format!("tcp://127.0.0.1:{port}");
  let mut server = monitored(50);
  server.connect(&Endpoint::parse(&ep).unwrap()).unwrap();
  let seen = until(&mut server, PeerEventKind::ConnectRetried).await;
  let kinds: Vec<_> = seen.iter().map(|e| e.kind).collect();
  // The kernel may refuse a loopback connect at once (no delayed event then) or report it later.
  let (closed, retried) = (PeerEventKind::Closed, PeerEventKind::ConnectRetried);
  assert!(
    kinds == [PeerEventKind::ConnectDelayed, closed, retried] || kinds == [closed, retried],
    "{seen:?}"
  );
  assert!(seen.iter().all(|e| e.endpoint == ep), "{seen:?}");
  let pause = seen[seen.len() - 1].value;
  assert!((50..100).contains(&pause), "retry pause {pause} ms");
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_is_queued_while_monitoring_is_off() {
  let mut server = monitored(100);
  server.set_monitor(false);
  let ep = server
    .bind(&Endpoint::parse("tcp://127.0.0.1:*").unwrap())
    .await
    .unwrap();
  assert!(server.unbind(&ep));
  assert_eq!(server.take_peer_event(), None);
}
