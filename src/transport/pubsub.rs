//! PUB/SUB: `Publisher` fans out without ever waiting (drops at the high-water mark and counts it);
//! `Subscriber` filters by prefix and reconnects. Either side may bind or connect, over tcp, ipc
//! or inproc, several times.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use super::link::{self, count_drop, LinkHandle, LinkSpec};
use super::{Endpoint, LinkOptions, Msg, SocketKind, TransportError};

fn spec(
  kind: SocketKind,
  opts: &LinkOptions,
  inbound: Option<mpsc::Sender<Msg>>,
  subs: Option<watch::Receiver<Vec<Bytes>>>,
  drops: &Arc<AtomicU64>,
) -> LinkSpec {
  LinkSpec {
    kind,
    identity: None,
    opts: opts.clone(),
    inbound,
    subs,
    drops: drops.clone(),
  }
}

/// A PUB socket, or an XPUB one ([`Publisher::xpub`]), which also receives its subscribers'
/// `[1|0, prefix]` messages.
pub struct Publisher {
  links: Vec<LinkHandle>,
  drops: Arc<AtomicU64>,
  opts: LinkOptions,
  kind: SocketKind,
  /// XPUB only: where the links put subscription messages.
  subscriptions: Option<(mpsc::Sender<Msg>, mpsc::Receiver<Msg>)>,
}

impl Default for Publisher {
  fn default() -> Self {
    Publisher::with_options(LinkOptions::default())
  }
}

impl Publisher {
  /// A publisher with default options.
  pub fn new() -> Publisher {
    Publisher::default()
  }

  /// A publisher with explicit HWM and reconnect timing.
  pub fn with_options(opts: LinkOptions) -> Publisher {
    Publisher {
      links: Vec::new(),
      drops: Arc::new(AtomicU64::new(0)),
      opts,
      kind: SocketKind::Pub,
      subscriptions: None,
    }
  }

  /// An XPUB: publishes like PUB, and [`Publisher::recv`] yields every subscription and
  /// unsubscription its subscribers send (`[1, prefix...]` / `[0, prefix...]`).
  pub fn xpub(opts: LinkOptions) -> Publisher {
    let (tx, rx) = mpsc::channel(opts.hwm.max(1));
    Publisher {
      kind: SocketKind::XPub,
      subscriptions: Some((tx, rx)),
      ..Publisher::with_options(opts)
    }
  }

  /// XPUB: the next subscription message (cancel-safe). A plain PUB never yields.
  ///
  /// # Errors
  /// Never in practice (the publisher holds a sender of its own queue).
  pub async fn recv(&mut self) -> Result<Msg, TransportError> {
    match &mut self.subscriptions {
      Some((_, rx)) => rx.recv().await.ok_or(TransportError::Closed),
      None => std::future::pending().await,
    }
  }

  fn link_spec(&self) -> LinkSpec {
    let inbound = self.subscriptions.as_ref().map(|(tx, _)| tx.clone());
    spec(self.kind, &self.opts, inbound, None, &self.drops)
  }

  /// Binds; returns the resolved endpoint.
  ///
  /// # Errors
  /// `Endpoint`, `AddrInUse`, `Io`.
  pub async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let s = self.link_spec();
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
    let s = self.link_spec();
    self.links.push(link::connect(&Endpoint::parse(ep)?, s)?);
    Ok(())
  }

  /// Publishes without waiting; a full queue drops the message for that link and counts it.
  ///
  /// # Errors
  /// `Invalid` for a message with no frames.
  pub fn send(&mut self, frames: Msg) -> Result<(), TransportError> {
    if frames.is_empty() {
      return Err(TransportError::Invalid("message has no frames".into()));
    }
    for l in &self.links {
      if let Some(out) = &l.out {
        if let Err(TrySendError::Full(_)) = out.try_send(frames.clone()) {
          count_drop(&self.drops);
        }
      }
    }
    Ok(())
  }

  /// Messages dropped at a high-water mark so far (local queues and inproc subscribers;
  /// zmq.rs's own per-subscriber drops are not visible).
  pub fn dropped(&self) -> u64 {
    self.drops.load(Ordering::Relaxed)
  }
}

/// A SUB socket.
pub struct Subscriber {
  links: Vec<LinkHandle>,
  in_tx: mpsc::Sender<Msg>,
  inbound: mpsc::Receiver<Msg>,
  subs_tx: watch::Sender<Vec<Bytes>>,
  /// Subscribed prefixes with their counts (libzmq keeps a multiset).
  counts: Vec<(Bytes, usize)>,
  drops: Arc<AtomicU64>,
  opts: LinkOptions,
}

impl Default for Subscriber {
  fn default() -> Self {
    Subscriber::with_options(LinkOptions::default())
  }
}

impl Subscriber {
  /// A subscriber with default options (subscribed to nothing).
  pub fn new() -> Subscriber {
    Subscriber::default()
  }

  /// A subscriber with explicit HWM and reconnect timing.
  pub fn with_options(opts: LinkOptions) -> Subscriber {
    let (in_tx, inbound) = mpsc::channel(opts.hwm.max(1));
    let (subs_tx, _) = watch::channel(Vec::new());
    let drops = Arc::new(AtomicU64::new(0));
    Subscriber {
      links: Vec::new(),
      in_tx,
      inbound,
      subs_tx,
      counts: Vec::new(),
      drops,
      opts,
    }
  }

  fn spec(&self) -> LinkSpec {
    spec(
      SocketKind::Sub,
      &self.opts,
      Some(self.in_tx.clone()),
      Some(self.subs_tx.subscribe()),
      &self.drops,
    )
  }

  /// Connects in the background (reconnecting; subscriptions are re-sent).
  ///
  /// # Errors
  /// `Endpoint` for a malformed endpoint.
  pub fn connect(&mut self, ep: &str) -> Result<(), TransportError> {
    let s = self.spec();
    self.links.push(link::connect(&Endpoint::parse(ep)?, s)?);
    Ok(())
  }

  /// Binds; returns the resolved endpoint.
  ///
  /// # Errors
  /// `Endpoint`, `AddrInUse`, `Io`.
  pub async fn bind(&mut self, ep: &str) -> Result<String, TransportError> {
    let s = self.spec();
    let l = link::bind(&Endpoint::parse(ep)?, s).await?;
    let resolved = l.endpoint.clone();
    self.links.push(l);
    Ok(resolved)
  }

  /// Subscribes to messages whose first frame starts with `prefix` (empty = everything).
  pub fn subscribe(&mut self, prefix: &[u8]) {
    match self.counts.iter_mut().find(|(p, _)| p[..] == *prefix) {
      Some((_, n)) => *n += 1,
      None => {
        self.counts.push((Bytes::copy_from_slice(prefix), 1));
        self.publish_subs();
      }
    }
  }

  /// Drops one subscription to `prefix`; the filter goes when its count reaches zero.
  pub fn unsubscribe(&mut self, prefix: &[u8]) {
    if let Some(i) = self.counts.iter().position(|(p, _)| p[..] == *prefix) {
      self.counts[i].1 -= 1;
      if self.counts[i].1 == 0 {
        self.counts.remove(i);
        self.publish_subs();
      }
    }
  }

  fn publish_subs(&self) {
    self
      .subs_tx
      .send_replace(self.counts.iter().map(|(p, _)| p.clone()).collect());
  }

  /// Next message that passed the filters. Cancel-safe.
  ///
  /// # Errors
  /// Never in practice (the socket holds its own sender); `Closed` is kept for symmetry.
  pub async fn recv(&mut self) -> Result<Msg, TransportError> {
    self.inbound.recv().await.ok_or(TransportError::Closed)
  }
}
