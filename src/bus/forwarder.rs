//! The node's own forwarder: a SUB side that subscribes every publisher to everything, and a PUB side
//! that sends each message on, unchanged, to every subscriber whose prefix matches. When this node is
//! elected, the whole cluster publishes into the SUB side and subscribes to the PUB side.
//!
//! Both sides face the network, so both run on our own ZMTP engine ([`crate::driver::Server`]) with its
//! hostile-peer limits: a frame over the size limit, a broken greeting or a handshake that never ends
//! closes that one connection and is counted; the relay and every other peer go on.
//!
//! Over plaintext (NULL, PLAIN) a message is relayed as bytes: the SUB side's sessions hand over each whole
//! message as its encoded frames ([`crate::zmtp::raw`]), the prefix match reads only the first frame, and
//! every matching plaintext subscriber gets those bytes appended to its write buffer as they are. A CURVE
//! connection on either side takes the frame path (CURVE seals each frame per connection).

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::driver::{Server, ServerConfig, ServerStats};
use crate::transport::ready_now;
use crate::zmtp::mechanism::MechanismConfig;
use crate::zmtp::socket::{PubState, Relayed, SinkState};
use crate::zmtp::SessionConfig;

/// Batches of our own publishes that may wait for the relay when this node
/// is the master (the node's loop waits beyond that: backpressure).
const LOCAL_QUEUE: usize = 16;
/// Messages queued per subscriber before it loses some: a short stall of a subscriber rides on this
/// (and on its TCP buffers), a long one costs that subscriber messages, never the cluster its forwarder.
const SUBSCRIBER_HWM: usize = 100_000;
/// Bytes queued per subscriber before it loses messages.
const SUBSCRIBER_HWM_BYTES: usize = 32 << 20;
/// Messages relayed per loop turn before the PUB side writes them.
const RELAY_BATCH: usize = 1024;

/// Where this node's own publishes enter its forwarder without a TCP hop.
pub type LocalInput = mpsc::Sender<Vec<Vec<Bytes>>>;

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
  /// Where the running forwarder publishes its counters (readable from any thread).
  pub stats: StatsCell,
}

/// A forwarder's latest counters, shared with its owner.
pub type StatsCell = Arc<Mutex<ForwarderStats>>;

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
      stats: StatsCell::default(),
    })
  }
}

/// Counters of a forwarder's two listening sides.
#[derive(Debug, Clone, Default)]
pub struct ForwarderStats {
  /// The SUB side (publishers).
  pub sub: ServerStats,
  /// The PUB side (subscribers).
  pub publ: ServerStats,
  /// Messages a full subscriber lost.
  pub dropped_full: u64,
}

impl ForwarderStats {
  /// The counters as JSON: per side, connections and refusals by reason.
  pub fn to_json(&self) -> serde_json::Value {
    let side = |s: &ServerStats| {
      serde_json::json!({
        "accepted": s.accepted,
        "active": s.active,
        "handshaking": s.handshaking,
        "handshakeEof": s.handshake_eof,
        "acceptErrors": s.accept_errors,
        "refused": s.refused,
        "refusedTotal": s.refused.values().sum::<u64>(),
      })
    };
    serde_json::json!({ "sub": side(&self.sub), "pub": side(&self.publ), "droppedFull": self.dropped_full })
  }
}

/// A running forwarder; [`Forwarder::stop`] closes both sides.
#[derive(Debug)]
pub struct Forwarder {
  stop: Option<oneshot::Sender<()>>,
  task: JoinHandle<()>,
  local: LocalInput,
  stats: Arc<Mutex<ForwarderStats>>,
}

fn side(
  socket_type: &str,
  hwm: usize,
  hwm_bytes: usize,
  mechanism: &MechanismConfig,
) -> ServerConfig {
  let mut session = SessionConfig::new(socket_type);
  session.mechanism = mechanism.clone();
  ServerConfig {
    session,
    hwm,
    hwm_bytes,
    ..ServerConfig::default()
  }
}

impl Forwarder {
  /// Starts relaying on the current tokio runtime.
  ///
  /// # Errors
  /// When a listener cannot be registered with the runtime.
  pub fn start(listeners: ForwarderListeners, mechanism: &MechanismConfig) -> io::Result<Self> {
    let mut sink_config = side("SUB", 0, 0, mechanism);
    // Plaintext publishers' messages come as their wire bytes and go out as they are (see `Relay::publish`).
    sink_config.session.raw_messages = true;
    let mut sink = Server::new(sink_config, SinkState::default());
    sink.add_tcp_listener(listeners.sub)?;
    let hwm = (SUBSCRIBER_HWM, SUBSCRIBER_HWM_BYTES);
    let mut publ = Server::new(
      side("PUB", hwm.0, hwm.1, mechanism),
      PubState::new(hwm.0, hwm.1),
    );
    publ.add_tcp_listener(listeners.publ)?;
    let (stop, stopped) = oneshot::channel();
    let (local, local_rx) = mpsc::channel(LOCAL_QUEUE);
    let stats = listeners.stats;
    let relay = Relay {
      sink,
      publ,
      stats: stats.clone(),
    };
    let task = tokio::spawn(relay.run(stopped, local_rx));
    Ok(Self {
      stop: Some(stop),
      task,
      local,
      stats,
    })
  }

  /// The input for this node's own publishes while it is the master: they
  /// go out on the PUB side like relayed ones, skipping encode, TCP and
  /// decode through our own SUB side.
  pub fn local_input(&self) -> LocalInput {
    self.local.clone()
  }

  /// The latest counters (refreshed on each relay turn).
  pub fn stats(&self) -> ForwarderStats {
    self.stats.lock().map(|s| s.clone()).unwrap_or_default()
  }

  /// Stops relaying and waits until both sides are closed, so that every
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

/// The relay task's sockets: both sides are polled from this one task.
struct Relay {
  sink: Server<SinkState>,
  publ: Server<PubState>,
  stats: Arc<Mutex<ForwarderStats>>,
}

impl Relay {
  async fn run(
    mut self,
    mut stopped: oneshot::Receiver<()>,
    mut local: mpsc::Receiver<Vec<Vec<Bytes>>>,
  ) {
    // Counters are published on their own short period, off the per-message path.
    let mut report = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
      tokio::select! {
        _ = &mut stopped => break,
        _ = report.tick() => self.report(),
        Some(batch) = local.recv() => {
          for msg in batch {
            self.publ.publish(&msg);
          }
        },
        msg = poll_fn(|cx| self.sink.poll_event(cx)) => {
          self.publish(msg);
          // Take what else already arrived before writing.
          for _ in 0..RELAY_BATCH {
            match ready_now(poll_fn(|cx| self.sink.poll_event(cx))).await {
              Some(msg) => self.publish(msg),
              None => break,
            }
          }
        },
        // The PUB side has no events; polling it accepts subscribers, reads subscriptions and writes.
        never = poll_fn(|cx| self.publ.poll_event(cx)) => match never {},
      }
      // PUB never blocks: a slow subscriber loses messages, it does not stall the cluster.
      self.publ.flush();
      self.sink.flush();
    }
    self.report();
    self.sink.close();
    self.publ.close();
  }

  /// Sends one relayed message on: wire bytes shared by every matching pipe when the publisher's
  /// connection is plaintext (plaintext subscribers get them appended as they are, CURVE ones sealed frame
  /// by frame), the frames otherwise.
  fn publish(&mut self, msg: Relayed) {
    match msg {
      Relayed::Raw(raw) => self.publ.publish_raw(&raw),
      Relayed::Frames(frames) => self.publ.publish(&frames),
    }
  }

  fn report(&self) {
    if let Ok(mut s) = self.stats.lock() {
      s.sub = self.sink.stats();
      s.publ = self.publ.stats();
      s.dropped_full = self.publ.state().dropped_full;
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::driver::ServerConfig;
  use crate::transport::Endpoint;
  use crate::zmtp::socket::{PipeOptions, SubState};
  use std::future::poll_fn;
  use std::time::Duration;

  fn dialled<S: crate::zmtp::socket::SocketState>(state: S, kind: &str, addr: &str) -> Server<S> {
    let mut config = ServerConfig::default();
    config.session.socket_type = kind.into();
    let mut server = Server::new(config, state);
    server.connect(&Endpoint::parse(addr).unwrap()).unwrap();
    server
  }

  #[tokio::test]
  async fn forwarder_relays_multipart_messages_unchanged() {
    let lo = Ipv4Addr::LOCALHOST;
    let listeners = ForwarderListeners::bind(lo, lo).unwrap();
    let (sub_addr, pub_addr) = (listeners.sub_addr.clone(), listeners.pub_addr.clone());
    assert!(crate::bus::codec::is_valid_address(&sub_addr));
    let fwd = Forwarder::start(listeners, &MechanismConfig::Null).unwrap();

    let mut out = dialled(SubState::new(PipeOptions::default()), "SUB", &pub_addr);
    out.update(|s| s.subscribe(Bytes::new()));
    let mut input = dialled(PubState::new(1000, usize::MAX), "PUB", &sub_addr);
    let frames = vec![
      Bytes::from_static(b"equity"),
      Bytes::new(),
      Bytes::from_static(b"\x00\xff"),
    ];
    // PUB drops until subscriptions arrive, so send until one gets through.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
      loop {
        let _ = input.submit(frames.clone());
        input.flush();
        let wait = poll_fn(|cx| {
          if let std::task::Poll::Ready(never) = input.poll_event(cx) {
            match never {}
          }
          out.poll_event(cx)
        });
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(50), wait).await {
          return m;
        }
      }
    })
    .await
    .unwrap();
    assert_eq!(got, frames);
    fwd.stop().await;
  }

  #[tokio::test]
  async fn a_frame_announcing_two_to_the_forty_bytes_closes_only_that_connection_on_either_side() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lo = Ipv4Addr::LOCALHOST;
    let listeners = ForwarderListeners::bind(lo, lo).unwrap();
    let addrs = [listeners.sub_addr.clone(), listeners.pub_addr.clone()];
    let fwd = Forwarder::start(listeners, &MechanismConfig::Null).unwrap();
    let greeting = crate::zmtp::greeting::encode(crate::zmtp::greeting::MechanismName::Null, false);
    for addr in &addrs {
      let mut s = tokio::net::TcpStream::connect(addr.trim_start_matches("tcp://"))
        .await
        .unwrap();
      let mut attack = greeting.to_vec();
      attack.push(0x06);
      attack.extend_from_slice(&(1u64 << 40).to_be_bytes());
      s.write_all(&attack).await.unwrap();
      let mut sink = [0u8; 256];
      let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(s.read(&mut sink).await, Ok(0) | Err(_)) {}
      });
      closed
        .await
        .expect("the forwarder closes the hostile connection");
    }
    let stats = tokio::time::timeout(Duration::from_secs(5), async {
      loop {
        let s = fwd.stats();
        if s.sub.refused.contains_key("frame_too_large")
          && s.publ.refused.contains_key("frame_too_large")
        {
          return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
      }
    })
    .await
    .expect("both refusals counted");
    assert_eq!(stats.sub.active + stats.publ.active, 0);
    fwd.stop().await;
  }
}
