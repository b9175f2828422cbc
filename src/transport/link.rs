//! Link tasks: one background task per connect (reconnecting) or per bind of a non-ROUTER socket.
//!
//! A link owns its zmq.rs socket (tcp/ipc) or its inproc pipe(s) and pumps messages between them
//! and the user-facing socket's bounded channels. Connecting links re-create the zmq.rs socket
//! (same identity) after the peer goes away, because zmq.rs DEALER/PUSH never reconnect.
//! Dropping the [`LinkHandle`] aborts the task, which drops the zmq.rs socket and its tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::linkio::{Ev, Link, Step};
use super::zsock::ZSock;
use super::{inproc, Endpoint, LinkOptions, Msg, SocketKind, TransportError};

/// Connection state of a link, observable through a `watch` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
  /// Not connected yet (first attempt running, or inproc name not bound yet).
  Connecting,
  /// Handshake done (tcp/ipc) or accepted by the binder (inproc); for binds: listening.
  Connected,
  /// The peer went away; reconnecting.
  Disconnected,
  /// The task ended (socket closed).
  Closed,
}

/// What a link needs besides its endpoint.
pub(crate) struct LinkSpec {
  pub kind: SocketKind,
  pub identity: Option<Bytes>,
  pub opts: LinkOptions,
  /// Where received messages go (receiving kinds).
  pub inbound: Option<mpsc::Sender<Msg>>,
  /// The subscription set (SUB only).
  pub subs: Option<watch::Receiver<Vec<Bytes>>>,
  /// Counter of messages dropped at a high-water mark (PUB).
  pub drops: Arc<AtomicU64>,
}

/// The user-facing side of a link; dropping it ends the task.
pub(crate) struct LinkHandle {
  /// Queue of messages to send (sending kinds), bounded at the HWM.
  pub out: Option<mpsc::Sender<Msg>>,
  /// Connection state.
  pub state: watch::Receiver<LinkState>,
  /// Endpoint as given, or as resolved by a bind.
  pub endpoint: String,
  task: JoinHandle<()>,
}

impl Drop for LinkHandle {
  fn drop(&mut self) {
    self.task.abort();
  }
}

fn sends(kind: SocketKind) -> bool {
  matches!(
    kind,
    SocketKind::Dealer | SocketKind::Push | SocketKind::Pub | SocketKind::XPub
  )
}

fn runtime() -> Result<tokio::runtime::Handle, TransportError> {
  tokio::runtime::Handle::try_current()
    .map_err(|_| TransportError::Invalid("no tokio runtime".into()))
}

fn channels(
  spec: &LinkSpec,
  first: LinkState,
) -> (
  Option<mpsc::Sender<Msg>>,
  Option<mpsc::Receiver<Msg>>,
  watch::Sender<LinkState>,
) {
  let (state_tx, _) = watch::channel(first);
  if sends(spec.kind) {
    let (tx, rx) = mpsc::channel(spec.opts.hwm.max(1));
    (Some(tx), Some(rx), state_tx)
  } else {
    (None, None, state_tx)
  }
}

/// Starts a reconnecting connection to `ep`; returns at once.
pub(crate) fn connect(ep: &Endpoint, spec: LinkSpec) -> Result<LinkHandle, TransportError> {
  let rt = runtime()?;
  let (out, out_rx, state_tx) = channels(&spec, LinkState::Connecting);
  let state = state_tx.subscribe();
  let task = rt.spawn(run_connect(ep.clone(), spec, out_rx, state_tx));
  Ok(LinkHandle {
    out,
    state,
    endpoint: ep.to_string(),
    task,
  })
}

/// Binds `ep` (tcp/ipc through zmq.rs, inproc through the hub) and starts its pump task.
pub(crate) async fn bind(ep: &Endpoint, spec: LinkSpec) -> Result<LinkHandle, TransportError> {
  let rt = runtime()?;
  let (link, resolved) = match ep {
    Endpoint::Inproc(name) => {
      if !matches!(
        spec.kind,
        SocketKind::Pull | SocketKind::Pub | SocketKind::XPub | SocketKind::Sub
      ) {
        return Err(TransportError::Invalid(format!(
          "inproc bind is not supported for {:?}",
          spec.kind
        )));
      }
      let mut peers = inproc::InprocPeers::default();
      peers.bind(name, spec.kind)?;
      (Link::Bound(peers), ep.to_string())
    }
    _ => {
      let mut sock = ZSock::new(spec.kind, spec.identity.as_ref(), spec.opts.connect_timeout)?;
      let resolved = sock.bind(&ep.to_string()).await?;
      (Link::Zmq { sock, mon: None }, resolved)
    }
  };
  let (out, mut out_rx, state_tx) = channels(&spec, LinkState::Connected);
  let state = state_tx.subscribe();
  let task = rt.spawn(async move {
    let mut link = link;
    let mut carry = None;
    let _ = pump(&mut link, &spec, &mut out_rx, &mut carry).await;
    state_tx.send_replace(LinkState::Closed);
  });
  Ok(LinkHandle {
    out,
    state,
    endpoint: resolved,
    task,
  })
}

async fn run_connect(
  ep: Endpoint,
  spec: LinkSpec,
  mut out_rx: Option<mpsc::Receiver<Msg>>,
  state: watch::Sender<LinkState>,
) {
  // A message zmq.rs handed back because the peer was gone; it goes first on the next connection.
  let mut carry: Option<Msg> = None;
  loop {
    match Link::open(&ep, &spec).await {
      Ok(mut link) => {
        state.send_replace(LinkState::Connected);
        let step = pump(&mut link, &spec, &mut out_rx, &mut carry).await;
        // Drop the old socket before reconnecting so its zmq.rs tasks end now.
        drop(link);
        if step == Step::Closed {
          state.send_replace(LinkState::Closed);
          return;
        }
        state.send_replace(LinkState::Disconnected);
      }
      Err(_) => {
        // Connection refused, timed out or not yet bound: try again after the interval.
      }
    }
    tokio::time::sleep(spec.opts.reconnect_ivl).await;
  }
}

async fn recv_opt(rx: &mut Option<mpsc::Receiver<Msg>>) -> Option<Msg> {
  match rx {
    Some(rx) => rx.recv().await,
    None => std::future::pending().await,
  }
}

async fn subs_changed(subs: &mut Option<watch::Receiver<Vec<Bytes>>>) -> Option<Vec<Bytes>> {
  match subs {
    Some(rx) => match rx.changed().await {
      Ok(()) => Some(rx.borrow_and_update().clone()),
      Err(_) => None,
    },
    None => std::future::pending().await,
  }
}

/// Most messages moved from the out queue per wake-up, so one busy link cannot starve others.
const OUT_BATCH: usize = 256;

/// Moves messages until the link goes down or the user side is gone.
async fn pump(
  link: &mut Link,
  spec: &LinkSpec,
  out_rx: &mut Option<mpsc::Receiver<Msg>>,
  carry: &mut Option<Msg>,
) -> Step {
  let mut subs_rx = spec.subs.clone();
  let mut applied: Vec<Bytes> = Vec::new();
  if let Some(rx) = &mut subs_rx {
    let now = rx.borrow_and_update().clone();
    if link.apply_subs(&mut applied, now).await == Step::Down {
      return Step::Down;
    }
  }
  if let Some(m) = carry.take() {
    if link.send(m, spec, carry).await == Step::Down {
      return Step::Down;
    }
  }
  loop {
    let ev = tokio::select! {
      ev = link.next(spec.kind) => ev,
      m = recv_opt(out_rx) => Ev::Out(m),
      s = subs_changed(&mut subs_rx) => Ev::Subs(s),
    };
    let step = match ev {
      Ev::In(m) => match &spec.inbound {
        Some(tx) if tx.send(m).await.is_err() => Step::Closed,
        _ => Step::Go,
      },
      Ev::Idle => Step::Go,
      Ev::Down => Step::Down,
      Ev::Out(None) | Ev::Subs(None) => Step::Closed,
      Ev::Out(Some(m)) => send_batch(link, spec, out_rx, carry, m).await,
      Ev::Subs(Some(now)) => link.apply_subs(&mut applied, now).await,
    };
    if step != Step::Go {
      return step;
    }
  }
}

async fn send_batch(
  link: &mut Link,
  spec: &LinkSpec,
  out_rx: &mut Option<mpsc::Receiver<Msg>>,
  carry: &mut Option<Msg>,
  first: Msg,
) -> Step {
  if link.send(first, spec, carry).await == Step::Down {
    return Step::Down;
  }
  let Some(rx) = out_rx else { return Step::Go };
  for _ in 1..OUT_BATCH {
    let Ok(m) = rx.try_recv() else { break };
    if link.send(m, spec, carry).await == Step::Down {
      return Step::Down;
    }
  }
  Step::Go
}

/// Counts one message dropped at a high-water mark.
pub(crate) fn count_drop(drops: &AtomicU64) {
  drops.fetch_add(1, Ordering::Relaxed);
}
