//! `inproc://` pipes of a [`Server`]: socket states work over the hub's channels unchanged, a full pipe
//! holds the sender's queue until the reader takes some, and unbinding ends the accepted pipes.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::timeout;

use super::*;
use crate::transport::Endpoint;
use crate::zmtp::socket::{PipeOptions, PullState, PushState};

const T: Duration = Duration::from_secs(5);

fn config(socket_type: &str, hwm: usize) -> ServerConfig {
  let mut config = ServerConfig::default();
  config.session.socket_type = socket_type.into();
  config.hwm = hwm;
  config
}

fn pipes(hwm: usize) -> PipeOptions {
  PipeOptions {
    sndhwm: hwm,
    rcvhwm: hwm,
    ..PipeOptions::default()
  }
}

/// Polls the pusher for I/O and the puller for its next message, within [`T`].
async fn next(push: &mut Server<PushState>, pull: &mut Server<PullState>) -> Vec<Bytes> {
  timeout(
    T,
    poll_fn(|cx| {
      let _ = push.poll_io(cx);
      pull.poll_event(cx)
    }),
  )
  .await
  .expect("a message within the bound")
}

#[tokio::test(flavor = "current_thread")]
async fn a_connecting_push_queues_before_the_bind_and_a_full_pipe_holds_its_queue() {
  let ep = Endpoint::parse("inproc://driver-inproc-hwm").unwrap();
  let mut push = Server::new(config("PUSH", 2), PushState::new(pipes(2)));
  push.connect(&ep).unwrap();
  // The pipe exists before the bind: two fit the state's queue, two more the channel.
  for i in 0..4u8 {
    push.submit(vec![Bytes::from(vec![i])]).unwrap();
  }
  let mut pull = Server::new(config("PULL", 2), PullState::new(pipes(2)));
  assert_eq!(pull.bind(&ep).await.unwrap(), "inproc://driver-inproc-hwm");
  let mut got = Vec::new();
  for _ in 0..4 {
    got.push(next(&mut push, &mut pull).await[0][0]);
  }
  assert_eq!(got, vec![0, 1, 2, 3]);
}

#[tokio::test(flavor = "current_thread")]
async fn unbinding_an_inproc_name_ends_its_accepted_pipes() {
  let ep = Endpoint::parse("inproc://driver-inproc-unbind").unwrap();
  let mut pull = Server::new(config("PULL", 10), PullState::new(pipes(10)));
  pull.bind(&ep).await.unwrap();
  let mut push = Server::new(config("PUSH", 10), PushState::new(pipes(10)));
  let token = push.connect(&ep).unwrap();
  assert_eq!(push.dialer_token(&ep), Some(token));
  push.submit(vec![Bytes::from_static(b"one")]).unwrap();
  assert_eq!(
    next(&mut push, &mut pull).await,
    vec![Bytes::from_static(b"one")]
  );
  assert!(pull.unbind("inproc://driver-inproc-unbind"));
  // The connecting side sees its peer go (a link-down event) and never reconnects over inproc.
  let down = timeout(
    T,
    poll_fn(|cx| {
      let _ = push.poll_io(cx);
      match push.take_link_event() {
        Some(ev) if !ev.up => Poll::Ready(ev),
        _ => Poll::Pending,
      }
    }),
  )
  .await
  .expect("link down within the bound");
  assert_eq!(down.token, token);
  assert!(push.disconnect(token));
  assert_eq!(push.dialer_token(&ep), None);
}
