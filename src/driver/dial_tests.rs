//! The connecting side over real sockets: dialing before the peer exists, reconnecting after it restarts,
//! disconnecting for good. Every wait is bounded.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{sleep, timeout};

use super::*;
use crate::transport::Endpoint;
use crate::zmtp::socket::{RouterEvent, RouterState};

const T: Duration = Duration::from_secs(10);

fn dialing_router() -> Server<RouterState> {
  let mut config = ServerConfig::default();
  config.session.identity = Bytes::from_static(b"dialer");
  config.reconnect_ivl = Duration::from_millis(20);
  Server::router(config)
}

/// Polls both sides until the listening router reports `Connected` for our dialer.
async fn until_connected(dialer: &mut Server<RouterState>, listener: &mut Router) -> Bytes {
  timeout(
    T,
    poll_fn(|cx| {
      while let Poll::Ready(ev) = dialer.poll_event(cx) {
        drop(ev);
      }
      loop {
        match listener.poll_recv(cx) {
          Poll::Ready(Recv::Connected(id)) => return Poll::Ready(id),
          Poll::Ready(_) => continue,
          Poll::Pending => return Poll::Pending,
        }
      }
    }),
  )
  .await
  .expect("the dialer never connected")
}

/// Sends `body` from the listener to the dialer and waits for it on the dialer's side.
async fn deliver(
  dialer: &mut Server<RouterState>,
  listener: &mut Router,
  id: &Bytes,
  body: &'static [u8],
) {
  listener
    .send(vec![id.clone(), Bytes::from_static(body)])
    .unwrap();
  listener.flush();
  let got = timeout(
    T,
    poll_fn(|cx| {
      while listener.poll_recv(cx).is_ready() {}
      loop {
        match dialer.poll_event(cx) {
          Poll::Ready(RouterEvent::Message(m)) => return Poll::Ready(m),
          Poll::Ready(_) => continue,
          Poll::Pending => return Poll::Pending,
        }
      }
    }),
  )
  .await
  .expect("no message at the dialer");
  assert_eq!(&got[1][..], body);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dialer_started_before_its_peer_connects_once_the_peer_binds() {
  let dir = std::env::temp_dir().join(format!("zmqbus-dial-{}", std::process::id()));
  let _ = std::fs::remove_file(&dir);
  let ep = format!("ipc://{}", dir.display());
  let mut dialer = dialing_router();
  dialer.connect(&Endpoint::parse(&ep).unwrap()).unwrap();
  // Nothing listens yet: a few attempts fail and are retried on the timer.
  let _ = timeout(
    Duration::from_millis(150),
    poll_fn(|cx| dialer.poll_event(cx)),
  )
  .await;
  assert!(dialer.dial_stats().failed >= 2, "{:?}", dialer.dial_stats());
  let mut listener = Router::new(ServerConfig::default());
  listener.bind(&ep).await.unwrap();
  let id = until_connected(&mut dialer, &mut listener).await;
  assert_eq!(&id[..], b"dialer");
  deliver(&mut dialer, &mut listener, &id, b"hello").await;
  listener.close();
}

#[tokio::test(flavor = "current_thread")]
async fn a_dialer_reconnects_after_its_peer_restarts_on_the_same_port() {
  let mut listener = Router::new(ServerConfig::default());
  let ep = listener.bind("tcp://127.0.0.1:*").await.unwrap();
  let mut dialer = dialing_router();
  dialer.connect(&Endpoint::parse(&ep).unwrap()).unwrap();
  let id = until_connected(&mut dialer, &mut listener).await;
  deliver(&mut dialer, &mut listener, &id, b"first").await;

  listener.close();
  // The dialer sees the close and starts retrying against the closed port.
  let _ = timeout(
    Duration::from_millis(100),
    poll_fn(|cx| dialer.poll_event(cx)),
  )
  .await;
  let mut listener = Router::new(ServerConfig::default());
  listener.bind(&ep).await.unwrap();
  let id = until_connected(&mut dialer, &mut listener).await;
  deliver(&mut dialer, &mut listener, &id, b"second").await;
  assert_eq!(dialer.dial_stats().connected, 2);
  let links: Vec<bool> = std::iter::from_fn(|| dialer.take_link_event())
    .map(|l| l.up)
    .collect();
  assert_eq!(links, [true, false, true], "up, lost, up again");
  listener.close();
}

#[tokio::test(flavor = "current_thread")]
async fn a_disconnected_endpoint_is_not_dialled_again() {
  // A port nothing listens on: bind then drop a listener to get one.
  let port = std::net::TcpListener::bind("127.0.0.1:0")
    .unwrap()
    .local_addr()
    .unwrap()
    .port();
  let endpoint = Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
  let mut dialer = dialing_router();
  let token = dialer.connect(&endpoint).unwrap();
  assert_eq!(dialer.dialer_token(&endpoint), Some(token));
  let _ = timeout(
    Duration::from_millis(100),
    poll_fn(|cx| dialer.poll_event(cx)),
  )
  .await;
  assert!(dialer.dial_stats().attempts >= 2);
  assert!(dialer.disconnect(token));
  let attempts = dialer.dial_stats().attempts;
  let _ = timeout(
    Duration::from_millis(100),
    poll_fn(|cx| dialer.poll_event(cx)),
  )
  .await;
  sleep(Duration::from_millis(10)).await;
  assert_eq!(dialer.dial_stats().attempts, attempts);
  assert!(!dialer.disconnect(token));
}
