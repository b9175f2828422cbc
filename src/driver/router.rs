//! The ROUTER an engine uses (the broker today): tcp/ipc over our own ZMTP engine ([`Server`]) and
//! `inproc://` over the in-process hub, bound together. `recv` hands out messages and peer connected/gone
//! events; `send` never waits; `close` releases every port on return.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;

use super::server::{Server, ServerConfig, ServerStats};
use crate::transport::inproc::InprocPeers;
use crate::transport::{Endpoint, Msg, SocketKind, TransportError};
use crate::zmtp::socket::{RouteError, RouterEvent, RouterState, RouterStats};

/// What a ROUTER hands its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recv {
  /// `[id, frames...]` from a peer.
  Message(Msg),
  /// A peer can now be routed to under this id.
  Connected(Bytes),
  /// The peer with this id is gone (its connection closed).
  Gone(Bytes),
}

impl From<RouterEvent> for Recv {
  fn from(ev: RouterEvent) -> Self {
    match ev {
      RouterEvent::Message(m) => Recv::Message(m),
      RouterEvent::Connected(id) => Recv::Connected(id),
      RouterEvent::Gone(id) => Recv::Gone(id),
    }
  }
}

/// A bound ROUTER over our engine (tcp, ipc) and the hub (inproc).
pub struct Router {
  server: Server<RouterState>,
  inproc: InprocPeers,
  /// Gone inproc peers noticed on send.
  gone: VecDeque<Bytes>,
  /// Alternates which side is polled first, so neither starves the other.
  flip: bool,
  bound: Vec<String>,
}

impl Router {
  /// A ROUTER with nothing bound yet.
  pub fn new(config: ServerConfig) -> Self {
    let mut inproc = InprocPeers::default();
    inproc.track_gone = true;
    Self {
      server: Server::router(config),
      inproc,
      gone: VecDeque::new(),
      flip: false,
      bound: Vec::new(),
    }
  }

  /// Binds an endpoint; several (tcp, ipc, inproc) may coexist. Returns it resolved.
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
      _ => self.server.bind(&endpoint).await?,
    };
    self.bound.push(resolved.clone());
    Ok(resolved)
  }

  /// Endpoints bound so far (resolved).
  pub fn endpoints(&self) -> &[String] {
    &self.bound
  }

  /// Closes everything: tcp ports and ipc files are free when this returns.
  pub fn close(mut self) {
    self.server.close();
  }

  /// The engine's counters (tcp and ipc connections).
  pub fn stats(&self) -> ServerStats {
    self.server.stats()
  }

  /// The ROUTER state's counters (drops at the HWM, duplicate ids...).
  pub fn router_stats(&self) -> RouterStats {
    self.server.state().stats().clone()
  }

  /// Polls for the next message or peer event from any side.
  pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Recv> {
    if let Some(id) = self.gone.pop_front().or_else(|| self.inproc.take_gone()) {
      return Poll::Ready(Recv::Gone(id));
    }
    self.flip = !self.flip;
    if self.flip {
      if let Poll::Ready(ev) = self.server.poll_event(cx) {
        return Poll::Ready(ev.into());
      }
    }
    if self.inproc.has_listeners() {
      if let Poll::Ready((idx, mut m)) = self.inproc.poll_recv(cx) {
        m.insert(0, self.inproc.peers[idx].identity.clone());
        return Poll::Ready(Recv::Message(m));
      }
      if let Some(id) = self.inproc.take_gone() {
        return Poll::Ready(Recv::Gone(id));
      }
    }
    if !self.flip {
      if let Poll::Ready(ev) = self.server.poll_event(cx) {
        return Poll::Ready(ev.into());
      }
    }
    Poll::Pending
  }

  /// Next message or peer event. Cancel-safe.
  pub async fn recv(&mut self) -> Recv {
    std::future::poll_fn(|cx| self.poll_recv(cx)).await
  }

  /// Queues `[id, frames...]` without waiting; tcp/ipc bytes go out at the next [`Router::flush`] or `recv`.
  ///
  /// # Errors
  /// `Invalid` for fewer than two frames, `Unroutable` for an unknown peer, `WouldBlock` when the peer's
  /// queue is full (the message is dropped and counted, as a libzmq ROUTER does).
  pub fn send(&mut self, mut frames: Msg) -> Result<(), TransportError> {
    if frames.len() < 2 {
      return Err(TransportError::Invalid(
        "ROUTER send needs an identity and at least one frame".into(),
      ));
    }
    if self.inproc.has_listeners() {
      self.inproc.accept_pending();
      if let Some(idx) = self.inproc.position(&frames[0]) {
        let identity = frames.remove(0);
        return match self.inproc.peers[idx].tx.try_send(frames) {
          Ok(()) => Ok(()),
          Err(TrySendError::Full(_)) => Err(TransportError::WouldBlock),
          Err(TrySendError::Closed(_)) => {
            self.inproc.remove(idx);
            self.gone.push_back(identity);
            Err(TransportError::Unroutable)
          }
        };
      }
    }
    self.server.send(frames).map_err(|e| match e {
      RouteError::Unroutable => TransportError::Unroutable,
      RouteError::Full => TransportError::WouldBlock,
      other => TransportError::Invalid(other.to_string()),
    })
  }

  /// Writes everything queued for tcp/ipc peers now (one write per connection).
  pub fn flush(&mut self) {
    self.server.flush();
  }
}
