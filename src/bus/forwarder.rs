//! The node's own forwarder: a SUB socket subscribed to everything, whose
//! every multipart message goes out unchanged on a PUB socket. When this node
//! is elected, the whole cluster publishes into the SUB and subscribes to
//! the PUB.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeromq::{PubSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

/// Batches of our own publishes that may wait for the relay when this node
/// is the master (the node's loop waits beyond that: backpressure).
const LOCAL_QUEUE: usize = 16;

/// Where this node's own publishes enter its forwarder without a TCP hop.
pub type LocalInput = mpsc::Sender<Vec<ZmqMessage>>;

/// Listening sockets of a forwarder, bound synchronously so that the
/// advertised ports are known before any task runs.
#[derive(Debug)]
pub struct ForwarderListeners {
  sub: TcpListener,
  publ: TcpListener,
  /// `tcp://<advertised>:<port>` of the SUB side (publishers connect here).
  pub sub_addr: String,
  /// `tcp://<advertised>:<port>` of the PUB side (subscribers connect here).
  pub pub_addr: String,
}

impl ForwarderListeners {
  /// Binds both sides on `bind_ip` with ephemeral ports and names them with
  /// `advertised` (the node's address when `bind_ip` is `0.0.0.0`).
  ///
  /// # Errors
  /// When a port cannot be bound.
  pub fn bind(bind_ip: Ipv4Addr, advertised: Ipv4Addr) -> io::Result<Self> {
    let sub = TcpListener::bind((bind_ip, 0))?;
    let publ = TcpListener::bind((bind_ip, 0))?;
    let sub_addr = format!("tcp://{}:{}", advertised, sub.local_addr()?.port());
    let pub_addr = format!("tcp://{}:{}", advertised, publ.local_addr()?.port());
    Ok(Self {
      sub,
      publ,
      sub_addr,
      pub_addr,
    })
  }
}

/// A running forwarder; [`Forwarder::stop`] closes both sockets.
#[derive(Debug)]
pub struct Forwarder {
  stop: Option<oneshot::Sender<()>>,
  task: JoinHandle<()>,
  local: LocalInput,
}

impl Forwarder {
  /// Starts relaying on the current tokio runtime.
  ///
  /// # Errors
  /// When zmq.rs refuses a listener.
  pub async fn start(listeners: ForwarderListeners) -> Result<Self, zeromq::ZmqError> {
    let mut sub = SubSocket::new();
    sub.bind_listener(listeners.sub).await?;
    // The empty prefix subscribes to every message; it is sent to each
    // publisher as it connects.
    sub.subscribe("").await?;
    let mut publ = PubSocket::new();
    publ.bind_listener(listeners.publ).await?;
    let (stop, stopped) = oneshot::channel();
    let (local, local_rx) = mpsc::channel(LOCAL_QUEUE);
    let task = tokio::spawn(relay(sub, publ, stopped, local_rx));
    Ok(Self {
      stop: Some(stop),
      task,
      local,
    })
  }

  /// The input for this node's own publishes while it is the master: they
  /// go out on the PUB side like relayed ones, skipping encode, TCP and
  /// decode through our own SUB side.
  pub fn local_input(&self) -> LocalInput {
    self.local.clone()
  }

  /// Stops relaying and waits until both sockets are closed, so that every
  /// connected node sees its connection drop.
  pub async fn stop(mut self) {
    if let Some(stop) = self.stop.take() {
      let _ = stop.send(());
    }
    let _ = (&mut self.task).await;
  }
}

impl Drop for Forwarder {
  fn drop(&mut self) {
    // Without an explicit stop the relay must still end with its owner.
    self.task.abort();
  }
}

async fn relay(
  mut sub: SubSocket,
  mut publ: PubSocket,
  mut stopped: oneshot::Receiver<()>,
  mut local: mpsc::Receiver<Vec<ZmqMessage>>,
) {
  loop {
    tokio::select! {
      _ = &mut stopped => break,
      Some(batch) = local.recv() => {
        for msg in batch {
          let _ = publ.send(msg).await;
        }
      },
      msg = sub.recv() => match msg {
        // PUB never blocks: a slow subscriber loses messages, it does not
        // stall the cluster.
        Ok(msg) => { let _ = publ.send(msg).await; }
        // One publisher's broken stream; it is already removed.
        Err(_) => tokio::task::yield_now().await,
      },
    }
  }
  let _ = sub.close().await;
  let _ = publ.close().await;
}

#[cfg(test)]
mod tests {
  use super::*;
  use bytes::Bytes;
  use std::time::Duration;
  use zeromq::ZmqMessage;

  #[tokio::test]
  async fn forwarder_relays_multipart_messages_unchanged() {
    let lo = Ipv4Addr::LOCALHOST;
    let listeners = ForwarderListeners::bind(lo, lo).unwrap();
    let (sub_addr, pub_addr) = (listeners.sub_addr.clone(), listeners.pub_addr.clone());
    assert!(crate::bus::codec::is_valid_address(&sub_addr));
    let fwd = Forwarder::start(listeners).await.unwrap();

    let mut out = SubSocket::new();
    out.subscribe("").await.unwrap();
    out.connect(&pub_addr).await.unwrap();
    let mut input = PubSocket::new();
    input.connect(&sub_addr).await.unwrap();

    let frames = vec![
      Bytes::from_static(b"equity"),
      Bytes::new(),
      Bytes::from_static(b"\x00\xff"),
    ];
    let msg = ZmqMessage::try_from(frames.clone()).unwrap();
    // PUB drops until subscriptions arrive, so send until one gets through.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
      loop {
        input.send(msg.clone()).await.unwrap();
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(50), out.recv()).await {
          return m;
        }
      }
    })
    .await
    .unwrap();
    assert_eq!(got.into_vec(), frames);
    fwd.stop().await;
  }
}
