//! DEALER: connects in the background, queues (bounded) while down, reconnects after the peer
//! restarts with the same identity, and never blocks on send.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use super::link::{self, LinkHandle, LinkSpec, LinkState};
use super::{Endpoint, LinkOptions, Msg, SocketKind, TransportError};

/// A DEALER socket connected to one endpoint (tcp, ipc or inproc).
pub struct Dealer {
  link: LinkHandle,
  inbound: mpsc::Receiver<Msg>,
}

impl Dealer {
  /// Starts connecting to `ep` with default options; returns at once.
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint; `Invalid` outside a tokio runtime or for an identity
  /// longer than 255 bytes.
  pub fn connect(ep: &str, identity: Option<Bytes>) -> Result<Dealer, TransportError> {
    Dealer::connect_with(ep, identity, LinkOptions::default())
  }

  /// Like [`Dealer::connect`], with explicit queue bound and reconnect timing.
  ///
  /// # Errors
  /// As [`Dealer::connect`].
  pub fn connect_with(
    ep: &str,
    identity: Option<Bytes>,
    opts: LinkOptions,
  ) -> Result<Dealer, TransportError> {
    let (endpoint, spec, inbound) = prepare(ep, identity, opts)?;
    let link = link::connect(&endpoint, spec)?;
    Ok(Dealer { link, inbound })
  }

  /// Binds tcp or ipc as a DEALER (peers connect to us; sends round-robin over them, and wait
  /// for a first peer while none is connected). Returns the dealer and the resolved endpoint.
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint, `Invalid` for inproc or an over-long identity,
  /// `AddrInUse`, `Io`.
  pub async fn bind_with(
    ep: &str,
    identity: Option<Bytes>,
    opts: LinkOptions,
  ) -> Result<(Dealer, String), TransportError> {
    let (endpoint, spec, inbound) = prepare(ep, identity, opts)?;
    let link = link::bind(&endpoint, spec).await?;
    let resolved = link.endpoint.clone();
    Ok((Dealer { link, inbound }, resolved))
  }

  /// Queues a message without waiting.
  ///
  /// # Errors
  /// `WouldBlock` when the queue (HWM) is full, `Closed` if the background task ended,
  /// `Invalid` for a message with no frames.
  pub fn send(&mut self, frames: Msg) -> Result<(), TransportError> {
    if frames.is_empty() {
      return Err(TransportError::Invalid("message has no frames".into()));
    }
    let Some(out) = &self.link.out else {
      return Err(TransportError::Closed);
    };
    out.try_send(frames).map_err(|e| match e {
      TrySendError::Full(_) => TransportError::WouldBlock,
      TrySendError::Closed(_) => TransportError::Closed,
    })
  }

  /// Next message from the peer. Cancel-safe.
  ///
  /// # Errors
  /// `Closed` if the background task ended.
  pub async fn recv(&mut self) -> Result<Msg, TransportError> {
    self.inbound.recv().await.ok_or(TransportError::Closed)
  }

  /// Whether the connection is up now.
  pub fn is_connected(&self) -> bool {
    *self.link.state.borrow() == LinkState::Connected
  }

  /// A `watch` of the connection state (Connecting / Connected / Disconnected / Closed).
  pub fn state(&self) -> watch::Receiver<LinkState> {
    self.link.state.clone()
  }

  /// The endpoint this dealer connects to.
  pub fn endpoint(&self) -> &str {
    &self.link.endpoint
  }

  /// Closes the socket: stops the background task and drops queued messages.
  pub fn close(self) {}
}

/// What connecting and binding share: the parsed endpoint, the link's spec and the inbound queue.
fn prepare(
  ep: &str,
  identity: Option<Bytes>,
  opts: LinkOptions,
) -> Result<(Endpoint, LinkSpec, mpsc::Receiver<Msg>), TransportError> {
  let endpoint = Endpoint::parse(ep)?;
  if identity.as_ref().is_some_and(|i| i.len() > 255) {
    return Err(TransportError::Invalid(
      "identity longer than 255 bytes".into(),
    ));
  }
  let (in_tx, inbound) = mpsc::channel(opts.hwm.max(1));
  let spec = LinkSpec {
    kind: SocketKind::Dealer,
    identity: identity.filter(|i| !i.is_empty()),
    opts,
    inbound: Some(in_tx),
    subs: None,
    drops: Arc::new(AtomicU64::new(0)),
  };
  Ok((endpoint, spec, inbound))
}
