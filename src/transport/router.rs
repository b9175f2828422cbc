//! ROUTER: binds tcp/ipc (zmq.rs) and inproc (the hub) at once, receives `[identity, ...frames]`
//! from any peer, and sends without ever waiting (`Unroutable` / `WouldBlock`).

use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use zeromq::prelude::*;
use zeromq::{RouterSocket, ZmqError, ZmqMessage};

use super::inproc::InprocPeers;
use super::{poll_once, Endpoint, Msg, SocketKind, TransportError};

/// A ROUTER socket; frame 0 of every message is the peer identity.
#[derive(Default)]
pub struct Router {
  zmq: Option<RouterSocket>,
  inproc: InprocPeers,
  /// Alternates which side is polled first, so neither transport starves the other.
  flip: bool,
  bound: Vec<String>,
}

impl Router {
  /// A ROUTER with nothing bound yet.
  pub fn new() -> Router {
    Router::default()
  }

  /// Binds an endpoint; several binds (e.g. tcp and inproc) may coexist.
  /// Returns the resolved endpoint (the real port for `tcp://host:0` or `:*`).
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint, `AddrInUse`, `Io`.
  pub async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let endpoint = Endpoint::parse(ep)?;
    let resolved = match &endpoint {
      Endpoint::Inproc(name) => {
        self.inproc.bind(name, SocketKind::Router)?;
        endpoint.to_string()
      }
      _ => {
        let sock = self.zmq.get_or_insert_with(RouterSocket::new);
        let resolved = sock.bind(&endpoint.to_string()).await.map_err(TransportError::from_zmq)?;
        resolved.to_string()
      }
    };
    self.bound.push(resolved.clone());
    Ok(resolved)
  }

  /// Endpoints bound so far (resolved).
  pub fn endpoints(&self) -> &[String] {
    &self.bound
  }

  /// Next message from any peer: `[identity, frames...]`. Cancel-safe.
  /// Pending forever while nothing is bound.
  ///
  /// # Errors
  /// `Zmq` if the zmq.rs side failed.
  pub async fn recv(&mut self) -> Result<Msg, TransportError> {
    self.flip = !self.flip;
    let inproc = &mut self.inproc;
    let zmq = &mut self.zmq;
    let from_inproc = async {
      let (idx, mut m) = inproc.recv().await;
      m.insert(0, inproc.peers[idx].identity.clone());
      Ok(m)
    };
    let from_zmq = async {
      match zmq {
        Some(sock) => sock.recv().await.map(ZmqMessage::into_vec).map_err(TransportError::from_zmq),
        None => std::future::pending().await,
      }
    };
    if self.flip {
      tokio::select! { biased; m = from_inproc => m, m = from_zmq => m }
    } else {
      tokio::select! { biased; m = from_zmq => m, m = from_inproc => m }
    }
  }

  /// Sends `[identity, frames...]` without waiting.
  ///
  /// # Errors
  /// `Invalid` for fewer than two frames, `Unroutable` for an unknown peer,
  /// `WouldBlock` when the peer's queue is full (the message is dropped; count it).
  pub fn send(&mut self, mut frames: Msg) -> Result<(), TransportError> {
    if frames.len() < 2 {
      return Err(TransportError::Invalid("ROUTER send needs an identity and at least one frame".into()));
    }
    let identity = frames.remove(0);
    if self.inproc.has_listeners() {
      self.inproc.accept_pending();
      if let Some(idx) = self.inproc.position(&identity) {
        return match self.inproc.peers[idx].tx.try_send(frames) {
          Ok(()) => Ok(()),
          Err(TrySendError::Full(_)) => Err(TransportError::WouldBlock),
          Err(TrySendError::Closed(_)) => {
            self.inproc.remove(idx);
            Err(TransportError::Unroutable)
          }
        };
      }
    }
    let Some(tx) = &mut self.zmq else { return Err(TransportError::Unroutable) };
    send_zmq(tx, identity, frames)
  }
}

fn send_zmq(tx: &mut RouterSocket, identity: Bytes, frames: Msg) -> Result<(), TransportError> {
  if identity.is_empty() || identity.len() > 255 {
    return Err(TransportError::Unroutable);
  }
  let mut m = ZmqMessage::try_from(frames).map_err(|_| TransportError::Invalid("no frames".into()))?;
  m.push_front(identity);
  // zmq.rs only waits when the peer's queue is full; polling once turns that into WouldBlock.
  match poll_once(tx.send(m)) {
    None => Err(TransportError::WouldBlock),
    Some(Ok(())) => Ok(()),
    Some(Err(ZmqError::Other(_))) => Err(TransportError::Unroutable),
    Some(Err(ZmqError::BufferFull(_))) => Err(TransportError::Unroutable),
    Some(Err(e)) => Err(TransportError::from_zmq(e)),
  }
}
