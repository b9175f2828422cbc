//! In-process transport: a global hub mapping `inproc://` names to listeners.
//!
//! A connection is a pair of bounded tokio channels (one per direction) carrying multipart
//! messages, plus the connecting peer's identity and socket kind. No kernel sockets are used.
//! A connect to a name nobody has bound yet is parked in the hub and handed to the listener
//! when the bind appears (libzmq >= 4 allows connect-before-bind).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use super::{Msg, SocketKind, TransportError};

/// One side of an inproc connection.
#[derive(Debug)]
pub struct PipeEnd {
  /// Messages to the other side.
  pub tx: mpsc::Sender<Msg>,
  /// Messages from the other side.
  pub rx: mpsc::Receiver<Msg>,
}

/// A connection handed to a listener: the binder's end plus who is connecting.
#[derive(Debug)]
pub struct Incoming {
  /// Identity the connecting socket asked for (`None`: the binder generates one).
  pub identity: Option<Bytes>,
  /// Socket kind of the connecting side.
  pub kind: SocketKind,
  /// The binder's end of the pipe.
  pub end: PipeEnd,
  accepted: oneshot::Sender<()>,
}

impl Incoming {
  /// Tells the connecting side that the binder took the connection.
  pub fn accept(self) -> (Option<Bytes>, SocketKind, PipeEnd) {
    let _ = self.accepted.send(());
    (self.identity, self.kind, self.end)
  }
}

/// The connecting side's handle: its pipe end, usable at once, and the accept signal.
#[derive(Debug)]
pub struct Pending {
  /// The connector's end of the pipe; sends queue up (bounded) until the binder reads.
  pub end: PipeEnd,
  /// Resolves `Ok` when a binder accepted; `Err` if the connection was refused.
  pub accepted: oneshot::Receiver<()>,
}

enum Slot {
  Bound {
    id: u64,
    kind: SocketKind,
    tx: mpsc::UnboundedSender<Incoming>,
  },
  Parked(Vec<Incoming>),
}

static HUB: LazyLock<Mutex<HashMap<String, Slot>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn hub() -> MutexGuard<'static, HashMap<String, Slot>> {
  // A poisoned lock only means another thread panicked while holding it; the map is still valid.
  HUB.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bound inproc name; dropping it unbinds the name.
#[derive(Debug)]
pub struct Listener {
  name: String,
  id: u64,
  kind: SocketKind,
  rx: mpsc::UnboundedReceiver<Incoming>,
}

/// Binds `name` for a socket of `kind`, taking over connections parked there.
///
/// # Errors
/// `AddrInUse` if the name is already bound.
pub fn bind(name: &str, kind: SocketKind) -> Result<Listener, TransportError> {
  let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
  let (tx, rx) = mpsc::unbounded_channel();
  let mut hub = hub();
  let parked = match hub.remove(name) {
    Some(Slot::Bound {
      id: old,
      kind: k,
      tx: old_tx,
    }) => {
      hub.insert(
        name.to_string(),
        Slot::Bound {
          id: old,
          kind: k,
          tx: old_tx,
        },
      );
      return Err(TransportError::AddrInUse(format!("inproc://{name}")));
    }
    Some(Slot::Parked(list)) => list,
    None => Vec::new(),
  };
  for incoming in parked {
    if kind.compatible(incoming.kind) && !incoming.end.tx.is_closed() {
      let _ = tx.send(incoming);
    }
  }
  hub.insert(name.to_string(), Slot::Bound { id, kind, tx });
  Ok(Listener {
    name: name.to_string(),
    id,
    kind,
    rx,
  })
}

/// Connects to `name` as a socket of `kind`; never waits (parks until a bind appears).
pub fn connect(name: &str, kind: SocketKind, identity: Option<Bytes>, hwm: usize) -> Pending {
  let hwm = hwm.max(1);
  let (to_binder, from_connector) = mpsc::channel(hwm);
  let (to_connector, from_binder) = mpsc::channel(hwm);
  let (accepted_tx, accepted) = oneshot::channel();
  let incoming = Incoming {
    identity,
    kind,
    end: PipeEnd {
      tx: to_connector,
      rx: from_connector,
    },
    accepted: accepted_tx,
  };
  let mut hub = hub();
  match hub
    .entry(name.to_string())
    .or_insert_with(|| Slot::Parked(Vec::new()))
  {
    Slot::Bound {
      kind: bound_kind,
      tx,
      ..
    } => {
      // An incompatible peer is refused by dropping `incoming` (its accept signal fails).
      if bound_kind.compatible(kind) {
        let _ = tx.send(incoming);
      }
    }
    Slot::Parked(list) => {
      // Forget parked connections whose connecting socket is gone, so the list stays bounded.
      list.retain(|p| !p.end.tx.is_closed());
      list.push(incoming);
    }
  }
  Pending {
    end: PipeEnd {
      tx: to_binder,
      rx: from_binder,
    },
    accepted,
  }
}

impl Listener {
  /// The socket kind this name was bound for.
  pub fn kind(&self) -> SocketKind {
    self.kind
  }

  /// Polls for the next incoming connection.
  pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Option<Incoming>> {
    self.rx.poll_recv(cx)
  }
}

impl Drop for Listener {
  fn drop(&mut self) {
    let mut hub = hub();
    if matches!(hub.get(&self.name), Some(Slot::Bound { id, .. }) if *id == self.id) {
      hub.remove(&self.name);
    }
  }
}

/// A libzmq-style generated identity: a zero byte then a 32-bit counter.
pub fn generated_identity() -> Bytes {
  static NEXT: AtomicU32 = AtomicU32::new(1);
  let mut b = BytesMut::with_capacity(5);
  b.put_u8(0);
  b.put_u32(NEXT.fetch_add(1, Ordering::Relaxed));
  b.freeze()
}

/// One accepted inproc peer, as seen by the binding socket.
#[derive(Debug)]
pub struct InprocPeer {
  /// The peer's identity (its own or a generated one).
  pub identity: Bytes,
  /// Messages to the peer.
  pub tx: mpsc::Sender<Msg>,
  rx: mpsc::Receiver<Msg>,
  /// Subscription prefixes (used by PUB binders only).
  pub subs: Vec<Bytes>,
}

/// The inproc side of a binding socket: its listeners and accepted peers, polled fairly.
#[derive(Debug, Default)]
pub struct InprocPeers {
  listeners: Vec<Listener>,
  /// Accepted peers, in accept order.
  pub peers: Vec<InprocPeer>,
  next: usize,
  /// Messages sent to every newly accepted peer (SUB binders put their subscriptions here).
  pub welcome: Vec<Msg>,
  /// When set, identities of peers whose connecting socket went away are kept for [`InprocPeers::take_gone`].
  pub track_gone: bool,
  gone: Vec<Bytes>,
}

impl InprocPeers {
  /// Binds one more inproc name.
  ///
  /// # Errors
  /// `AddrInUse` if the name is taken.
  pub fn bind(&mut self, name: &str, kind: SocketKind) -> Result<(), TransportError> {
    self.listeners.push(bind(name, kind)?);
    Ok(())
  }

  /// True when no inproc name is bound.
  pub fn has_listeners(&self) -> bool {
    !self.listeners.is_empty()
  }

  /// Accepts every connection already waiting, without blocking.
  pub fn accept_pending(&mut self) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    self.poll_accept_all(&mut cx);
  }

  fn poll_accept_all(&mut self, cx: &mut Context<'_>) {
    let mut fresh = Vec::new();
    for l in &mut self.listeners {
      while let Poll::Ready(Some(incoming)) = l.poll_accept(cx) {
        fresh.push(incoming);
      }
    }
    for incoming in fresh {
      self.add(incoming);
    }
  }

  fn add(&mut self, incoming: Incoming) {
    let (identity, _kind, end) = incoming.accept();
    let identity = identity
      .filter(|i| !i.is_empty())
      .unwrap_or_else(generated_identity);
    // Same identity: a reconnect replaces a dead pipe; a live duplicate is refused (libzmq).
    if let Some(i) = self.position(&identity) {
      if !self.peers[i].tx.is_closed() {
        return;
      }
      self.peers.remove(i);
    }
    for m in &self.welcome {
      let _ = end.tx.try_send(m.clone());
    }
    self.peers.push(InprocPeer {
      identity,
      tx: end.tx,
      rx: end.rx,
      subs: Vec::new(),
    });
  }

  /// Index of the peer with this identity.
  pub fn position(&self, identity: &[u8]) -> Option<usize> {
    self.peers.iter().position(|p| p.identity == identity)
  }

  /// Removes a peer (e.g. after its pipe closed on send).
  pub fn remove(&mut self, idx: usize) {
    if idx < self.peers.len() {
      self.peers.remove(idx);
    }
  }

  /// Next message from any peer, fairly; `(peer index, frames)`. Never `Ready` with nothing.
  /// Cancel-safe: a message is only taken in the poll that returns it.
  pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<(usize, Msg)> {
    self.poll_accept_all(cx);
    let mut tried = 0;
    while tried < self.peers.len() {
      let idx = (self.next + tried) % self.peers.len();
      match self.peers[idx].rx.poll_recv(cx) {
        Poll::Ready(Some(msg)) => {
          self.next = idx + 1;
          return Poll::Ready((idx, msg));
        }
        // The connecting socket is gone; forget it and rescan from the same place.
        Poll::Ready(None) => {
          let peer = self.peers.remove(idx);
          if self.track_gone {
            self.gone.push(peer.identity);
          }
        }
        Poll::Pending => tried += 1,
      }
    }
    Poll::Pending
  }

  /// The identity of a peer found gone (only with `track_gone`).
  pub fn take_gone(&mut self) -> Option<Bytes> {
    self.gone.pop()
  }

  /// Async form of [`InprocPeers::poll_recv`]; pending forever when nothing is bound.
  pub async fn recv(&mut self) -> (usize, Msg) {
    std::future::poll_fn(|cx| self.poll_recv(cx)).await
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test(flavor = "current_thread")]
  async fn connect_before_bind_is_parked_then_delivered() {
    let mut pending = connect(
      "t-park",
      SocketKind::Dealer,
      Some(Bytes::from_static(b"me")),
      4,
    );
    pending
      .end
      .tx
      .try_send(vec![Bytes::from_static(b"early")])
      .unwrap();
    let mut peers = InprocPeers::default();
    peers.bind("t-park", SocketKind::Router).unwrap();
    let (idx, msg) = peers.recv().await;
    assert_eq!(peers.peers[idx].identity, Bytes::from_static(b"me"));
    assert_eq!(msg, vec![Bytes::from_static(b"early")]);
    assert!((&mut pending.accepted).await.is_ok());
  }

  #[tokio::test(flavor = "current_thread")]
  async fn second_bind_of_a_name_is_addr_in_use_until_the_first_drops() {
    let first = bind("t-twice", SocketKind::Router).unwrap();
    assert!(matches!(
      bind("t-twice", SocketKind::Router),
      Err(TransportError::AddrInUse(_))
    ));
    drop(first);
    assert!(bind("t-twice", SocketKind::Router).is_ok());
  }

  #[tokio::test(flavor = "current_thread")]
  async fn incompatible_kind_is_refused() {
    let _l = bind("t-kind", SocketKind::Router).unwrap();
    let pending = connect("t-kind", SocketKind::Push, None, 4);
    assert!(pending.accepted.await.is_err());
  }

  #[test]
  fn generated_identities_start_with_zero_and_differ() {
    let (a, b) = (generated_identity(), generated_identity());
    assert_eq!((a.len(), a[0]), (5, 0));
    assert_ne!(a, b);
  }
}
