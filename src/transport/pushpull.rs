//! PUSH/PULL: `Push` round-robins over its connections and binds with `WouldBlock` backpressure;
//! `Pull` fair-queues from all of them.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::link::{self, LinkHandle, LinkSpec};
use super::{Endpoint, LinkOptions, Msg, SocketKind, TransportError};

fn spec(kind: SocketKind, opts: &LinkOptions, inbound: Option<mpsc::Sender<Msg>>) -> LinkSpec {
  LinkSpec { kind, identity: None, opts: opts.clone(), inbound, subs: None, drops: Arc::new(AtomicU64::new(0)) }
}

/// A PUSH socket.
#[derive(Default)]
pub struct Push {
  links: Vec<LinkHandle>,
  next: usize,
  opts: LinkOptions,
}

impl Push {
  /// A push socket with default options.
  pub fn new() -> Push {
    Push::default()
  }

  /// A push socket with explicit HWM and reconnect timing.
  pub fn with_options(opts: LinkOptions) -> Push {
    Push { links: Vec::new(), next: 0, opts }
  }

  /// Connects in the background (reconnecting); tcp, ipc or inproc.
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint.
  pub fn connect(&mut self, ep: &str) -> Result<(), TransportError> {
    let s = spec(SocketKind::Push, &self.opts, None);
    self.links.push(link::connect(&Endpoint::parse(ep)?, s)?);
    Ok(())
  }

  /// Binds tcp or ipc (zmq.rs round-robins over the peers of one bind); returns the resolved endpoint.
  ///
  /// # Errors
  /// `Endpoint`, `AddrInUse`, `Io`; `Invalid` for inproc.
  pub async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let s = spec(SocketKind::Push, &self.opts, None);
    let l = link::bind(&Endpoint::parse(ep)?, s).await?;
    let resolved = l.endpoint.clone();
    self.links.push(l);
    Ok(resolved)
  }

  /// Sends to the next link in turn that has room, without waiting.
  ///
  /// # Errors
  /// `WouldBlock` when every link is full (or none exists); `Invalid` for no frames.
  pub fn send(&mut self, frames: Msg) -> Result<(), TransportError> {
    if frames.is_empty() {
      return Err(TransportError::Invalid("message has no frames".into()));
    }
    let n = self.links.len();
    let mut frames = frames;
    for k in 0..n {
      let i = (self.next + k) % n;
      let Some(out) = &self.links[i].out else { continue };
      match out.try_send(frames) {
        Ok(()) => {
          self.next = i + 1;
          return Ok(());
        }
        Err(e) => frames = e.into_inner(),
      }
    }
    Err(TransportError::WouldBlock)
  }
}

/// A PULL socket.
pub struct Pull {
  links: Vec<LinkHandle>,
  in_tx: mpsc::Sender<Msg>,
  inbound: mpsc::Receiver<Msg>,
  opts: LinkOptions,
}

impl Default for Pull {
  fn default() -> Self {
    Pull::with_options(LinkOptions::default())
  }
}

impl Pull {
  /// A pull socket with default options.
  pub fn new() -> Pull {
    Pull::default()
  }

  /// A pull socket with explicit HWM and reconnect timing.
  pub fn with_options(opts: LinkOptions) -> Pull {
    let (in_tx, inbound) = mpsc::channel(opts.hwm.max(1));
    Pull { links: Vec::new(), in_tx, inbound, opts }
  }

  /// Binds tcp, ipc or inproc; returns the resolved endpoint.
  ///
  /// # Errors
  /// `Endpoint`, `AddrInUse`, `Io`.
  pub async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let s = spec(SocketKind::Pull, &self.opts, Some(self.in_tx.clone()));
    let l = link::bind(&Endpoint::parse(ep)?, s).await?;
    let resolved = l.endpoint.clone();
    self.links.push(l);
    Ok(resolved)
  }

  /// Connects in the background (reconnecting).
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint.
  pub fn connect(&mut self, ep: &str) -> Result<(), TransportError> {
    let s = spec(SocketKind::Pull, &self.opts, Some(self.in_tx.clone()));
    self.links.push(link::connect(&Endpoint::parse(ep)?, s)?);
    Ok(())
  }

  /// Next message from any peer. Cancel-safe.
  ///
  /// # Errors
  /// Never in practice (the socket holds its own sender); `Closed` is kept for symmetry.
  pub async fn recv(&mut self) -> Result<Msg, TransportError> {
    self.inbound.recv().await.ok_or(TransportError::Closed)
  }
}
