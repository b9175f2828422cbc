//! A DEALER that connects to one endpoint, for the engines that talk to one peer (the pigato worker and
//! client, towards their broker): tcp/ipc over our ZMTP engine ([`Server`] with a [`DealerState`]), or
//! `inproc://` over the in-process hub. It tells its owner when the peer comes up and when it is lost, so a
//! client reacts to a dead broker at once instead of after missed heartbeats.
//!
//! Messages queue (bounded by `hwm`) while the peer is away and go out when it is back; `send` never waits.

use std::collections::VecDeque;
use std::future::Future;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::oneshot;

use super::reactor::{Reactor, Tokio};
use super::server::{Server, ServerConfig};
use crate::transport::inproc::{self, PipeEnd};
use crate::transport::{Endpoint, Msg, SocketKind, TransportError};
use crate::zmtp::socket::{DealerState, PipeOptions, SendError};

/// What the DEALER hands its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealerEvent {
  /// A message from the peer.
  Message(Msg),
  /// The peer is there (handshake done, or the inproc binder took us).
  Up,
  /// The peer was lost (connection closed); reconnecting has started.
  Down,
}

enum Inner<R: Reactor> {
  Net(Box<Server<DealerState, R>>),
  Inproc {
    end: PipeEnd,
    accepted: Option<oneshot::Receiver<()>>,
    gone: bool,
  },
}

/// A DEALER connected (and reconnecting) to one endpoint, on the tokio runtime or on a JS thread's loop.
pub struct Dealer<R: Reactor = Tokio> {
  inner: Inner<R>,
  stash: VecDeque<DealerEvent>,
  endpoint: String,
}

impl Dealer<Tokio> {
  /// Starts connecting to `ep` on the tokio runtime; see [`Dealer::connect_on`].
  ///
  /// # Errors
  /// As [`Dealer::connect_on`].
  pub fn connect(ep: &str, config: ServerConfig, hwm: usize) -> Result<Self, TransportError> {
    Self::connect_on(ep, config, hwm, Tokio)
  }
}

impl<R: Reactor> Dealer<R> {
  /// Starts connecting to `ep` with `config` (its session's identity and mechanism, reconnect timing) and
  /// at most `hwm` messages queued each way, its sockets and timers driven by `reactor`; returns at once.
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint, `Invalid` for an identity over 255 bytes.
  pub fn connect_on(
    ep: &str,
    config: ServerConfig,
    hwm: usize,
    reactor: R,
  ) -> Result<Self, TransportError> {
    let endpoint = Endpoint::parse(ep)?;
    let identity = config.session.identity.clone();
    if identity.len() > 255 {
      return Err(TransportError::Invalid(
        "identity longer than 255 bytes".into(),
      ));
    }
    let inner = match &endpoint {
      Endpoint::Inproc(name) => {
        let id = (!identity.is_empty()).then_some(identity);
        let pending = inproc::connect(name, SocketKind::Dealer, id, hwm);
        Inner::Inproc {
          end: pending.end,
          accepted: Some(pending.accepted),
          gone: false,
        }
      }
      _ => {
        let opts = PipeOptions {
          sndhwm: hwm,
          rcvhwm: hwm,
          ..PipeOptions::default()
        };
        let mut server = Box::new(Server::with_reactor(
          config,
          DealerState::new(opts),
          reactor,
        ));
        server.connect(&endpoint)?;
        Inner::Net(server)
      }
    };
    Ok(Self {
      inner,
      stash: VecDeque::new(),
      endpoint: endpoint.to_string(),
    })
  }

  /// The endpoint this DEALER connects to.
  pub fn endpoint(&self) -> &str {
    &self.endpoint
  }

  /// Queues a message; tcp/ipc bytes go out at the next [`Dealer::flush`] or poll.
  ///
  /// # Errors
  /// `WouldBlock` when the queue is full, `Closed` when the inproc peer is gone for good, `Invalid` for a
  /// message without frames.
  pub fn send(&mut self, frames: Msg) -> Result<(), TransportError> {
    match &mut self.inner {
      Inner::Net(server) => server.submit(frames).map_err(|e| match e {
        SendError::WouldBlock => TransportError::WouldBlock,
        other => TransportError::Invalid(other.to_string()),
      }),
      Inner::Inproc { end, .. } => end.tx.try_send(frames).map_err(|e| match e {
        TrySendError::Full(_) => TransportError::WouldBlock,
        TrySendError::Closed(_) => TransportError::Closed,
      }),
    }
  }

  /// Writes what is queued now (one write for everything).
  pub fn flush(&mut self) {
    if let Inner::Net(server) = &mut self.inner {
      server.flush();
    }
  }

  /// The next message or peer event. Cancel-safe.
  pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<DealerEvent> {
    if let Some(ev) = self.stash.pop_front() {
      return Poll::Ready(ev);
    }
    match &mut self.inner {
      Inner::Net(server) => {
        let polled = server.poll_event(cx);
        while let Some(link) = server.take_link_event() {
          let ev = if link.up {
            DealerEvent::Up
          } else {
            DealerEvent::Down
          };
          self.stash.push_back(ev);
        }
        if let Poll::Ready(msg) = polled {
          self.stash.push_back(DealerEvent::Message(msg));
        }
        self.stash.pop_front().map_or(Poll::Pending, Poll::Ready)
      }
      Inner::Inproc {
        end,
        accepted,
        gone,
      } => poll_inproc(end, accepted, gone, cx),
    }
  }

  /// The next message or peer event. Cancel-safe.
  pub async fn recv(&mut self) -> DealerEvent {
    std::future::poll_fn(|cx| self.poll_recv(cx)).await
  }

  /// Counters of the connecting side (attempts, failures, connections), for tcp/ipc.
  pub fn dial_stats(&self) -> Option<super::DialStats> {
    match &self.inner {
      Inner::Net(server) => Some(server.dial_stats()),
      Inner::Inproc { .. } => None,
    }
  }
}

fn poll_inproc(
  end: &mut PipeEnd,
  accepted: &mut Option<oneshot::Receiver<()>>,
  gone: &mut bool,
  cx: &mut Context<'_>,
) -> Poll<DealerEvent> {
  if let Some(rx) = accepted {
    if let Poll::Ready(result) = std::pin::Pin::new(rx).poll(cx) {
      *accepted = None;
      if result.is_ok() {
        return Poll::Ready(DealerEvent::Up);
      }
    }
  }
  if *gone {
    return Poll::Pending;
  }
  match end.rx.poll_recv(cx) {
    Poll::Ready(Some(msg)) => Poll::Ready(DealerEvent::Message(msg)),
    Poll::Ready(None) => {
      // The binder is gone; inproc never reconnects (libzmq's inproc pipes end with their binder).
      *gone = true;
      Poll::Ready(DealerEvent::Down)
    }
    Poll::Pending => Poll::Pending,
  }
}

impl<R: Reactor> Drop for Dealer<R> {
  fn drop(&mut self) {
    if let Inner::Net(server) = &mut self.inner {
      server.close();
    }
  }
}
