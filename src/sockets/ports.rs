//! The endpoints of one socket: every bind or connect is a port over a `crate::transport`
//! socket, so each can be unbound or disconnected on its own.
//!
//! Sending follows the socket type: DEALER/REQ/PUSH round-robin over ports with room (none
//! with room = `WouldBlock`, the loop retries later), PUB fans out, ROUTER/REP route by the
//! identity frame (unknown peers and full peers drop, as libzmq). Receiving is fair across ports.
//! ROUTER/REP connects go through a DEALER link and name that peer with a generated identity.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{SocketError, SocketType};
use crate::transport::inproc::generated_identity;
use crate::transport::{
  Dealer, Endpoint, LinkOptions, Msg, Publisher, Pull, Push, Router, Subscriber, TransportError,
};

/// Options a new port takes from the socket (set before bind/connect, as in libzmq).
#[derive(Debug, Clone, Default)]
pub struct PortOptions {
  /// ZMQ_IDENTITY / ZMQ_ROUTING_ID sent to peers (DEALER/REQ).
  pub identity: Option<Bytes>,
  /// Queue bound per direction (max of ZMQ_SNDHWM and ZMQ_RCVHWM).
  pub hwm: usize,
}

impl PortOptions {
  fn link(&self) -> LinkOptions {
    let mut o = LinkOptions::default();
    if self.hwm > 0 {
      o.hwm = self.hwm;
    }
    o
  }
}

fn publisher(kind: SocketType, link: LinkOptions) -> Publisher {
  if kind == SocketType::XPub {
    Publisher::xpub(link)
  } else {
    Publisher::with_options(link)
  }
}

enum Io {
  Dealer(Dealer),
  Router(Router),
  RouterConn { id: Bytes, dealer: Dealer },
  Pub(Publisher),
  Sub(Subscriber),
  Push(Push),
  Pull(Pull),
}

impl Io {
  async fn recv(&mut self) -> Result<Msg, TransportError> {
    match self {
      Io::Dealer(d) => d.recv().await,
      Io::Router(r) => r.recv().await,
      Io::RouterConn { id, dealer } => {
        let mut m = dealer.recv().await?;
        m.insert(0, id.clone());
        Ok(m)
      }
      Io::Sub(s) => s.recv().await,
      Io::Pull(p) => p.recv().await,
      // A plain PUB never yields; an XPUB yields its subscribers' subscription messages.
      Io::Pub(p) => p.recv().await,
      Io::Push(_) => std::future::pending().await,
    }
  }
}

struct Port {
  id: usize,
  /// The endpoint as normalized from the caller's string.
  given: String,
  /// The resolved endpoint (real port after `:*`) for binds; `given` for connects.
  endpoint: String,
  bound: bool,
  io: Io,
}

/// What became of one send.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
  /// Handed to the port with this id.
  To(usize),
  /// Dropped by design (PUB with no peers, ROUTER to an unknown or full peer, XSUB data).
  Dropped,
  /// No port has room now; keep the message and retry.
  WouldBlock,
}

/// All ports of one socket.
pub struct Ports {
  kind: SocketType,
  ports: Vec<Port>,
  next_id: usize,
  next_send: usize,
  next_recv: usize,
  /// Subscriptions with their counts (SUB/XSUB), replayed on every new port.
  subs: Vec<(Bytes, usize)>,
}

fn normalize(ep: &str) -> Result<String, SocketError> {
  Ok(Endpoint::parse(ep)?.to_string())
}

impl Ports {
  /// No ports yet for a socket of `kind`.
  pub fn new(kind: SocketType) -> Ports {
    Ports {
      kind,
      ports: Vec::new(),
      next_id: 0,
      next_send: 0,
      next_recv: 0,
      subs: Vec::new(),
    }
  }

  fn add(&mut self, given: String, endpoint: String, bound: bool, io: Io) {
    self.next_id += 1;
    let mut port = Port {
      id: self.next_id,
      given,
      endpoint,
      bound,
      io,
    };
    if let Io::Sub(s) = &mut port.io {
      for (prefix, _) in &self.subs {
        s.subscribe(prefix);
      }
    }
    self.ports.push(port);
  }

  /// Binds `ep`; returns the resolved endpoint.
  ///
  /// # Errors
  /// Malformed endpoint, address in use, or a transport this type cannot bind (inproc DEALER/PUSH).
  pub async fn bind(&mut self, ep: &str, opts: &PortOptions) -> Result<String, SocketError> {
    let given = normalize(ep)?;
    let link = opts.link();
    let (io, resolved) = match self.kind {
      SocketType::Dealer | SocketType::Req => {
        let (d, r) = Dealer::bind_with(ep, opts.identity.clone(), link).await?;
        (Io::Dealer(d), r)
      }
      SocketType::Router | SocketType::Rep => {
        let mut r = Router::new();
        let resolved = r.bind(ep).await?;
        (Io::Router(r), resolved)
      }
      SocketType::Pub | SocketType::XPub => {
        let mut p = publisher(self.kind, link);
        let resolved = p.bind(ep).await?;
        (Io::Pub(p), resolved)
      }
      SocketType::Sub | SocketType::XSub => {
        let mut s = Subscriber::with_options(link);
        let resolved = s.bind(ep).await?;
        (Io::Sub(s), resolved)
      }
      SocketType::Push => {
        let mut p = Push::with_options(link);
        let resolved = p.bind(ep).await?;
        (Io::Push(p), resolved)
      }
      SocketType::Pull => {
        let mut p = Pull::with_options(link);
        let resolved = p.bind(ep).await?;
        (Io::Pull(p), resolved)
      }
    };
    self.add(given, resolved.clone(), true, io);
    Ok(resolved)
  }

  /// Connects to `ep` in the background (reconnecting after the peer restarts).
  ///
  /// # Errors
  /// Malformed endpoint or an over-long identity.
  pub fn connect(&mut self, ep: &str, opts: &PortOptions) -> Result<(), SocketError> {
    let given = normalize(ep)?;
    let link = opts.link();
    let io = match self.kind {
      SocketType::Dealer | SocketType::Req => {
        Io::Dealer(Dealer::connect_with(ep, opts.identity.clone(), link)?)
      }
      SocketType::Router | SocketType::Rep => {
        let dealer = Dealer::connect_with(ep, opts.identity.clone(), link)?;
        Io::RouterConn {
          id: generated_identity(),
          dealer,
        }
      }
      SocketType::Pub | SocketType::XPub => {
        let mut p = publisher(self.kind, link);
        p.connect(ep)?;
        Io::Pub(p)
      }
      SocketType::Sub | SocketType::XSub => {
        let mut s = Subscriber::with_options(link);
        s.connect(ep)?;
        Io::Sub(s)
      }
      SocketType::Push => {
        let mut p = Push::with_options(link);
        p.connect(ep)?;
        Io::Push(p)
      }
      SocketType::Pull => {
        let mut p = Pull::with_options(link);
        p.connect(ep)?;
        Io::Pull(p)
      }
    };
    self.add(given.clone(), given, false, io);
    Ok(())
  }

  /// Removes the bind (`bound`) or connect of `ep`, closing it; returns its endpoint.
  ///
  /// # Errors
  /// `NotFound` when no such port exists; `Transport` for a malformed endpoint.
  pub fn remove(&mut self, ep: &str, bound: bool) -> Result<String, SocketError> {
    let given = normalize(ep)?;
    let found = self.ports.iter().position(|p| {
      p.bound == bound && (p.given == given || p.endpoint == given || p.endpoint == ep)
    });
    let idx = found.ok_or_else(|| SocketError::NotFound(ep.to_string()))?;
    Ok(self.ports.remove(idx).endpoint)
  }

  /// Number of ports.
  pub fn len(&self) -> usize {
    self.ports.len()
  }

  /// True with no bind and no connect.
  pub fn is_empty(&self) -> bool {
    self.ports.is_empty()
  }

  /// Closes every port.
  pub fn clear(&mut self) {
    self.ports.clear();
  }
}

impl Ports {
  /// Sends one wire message according to the socket type.
  ///
  /// # Errors
  /// `NotSupported` for types that cannot send (SUB, PULL); transport errors other than backpressure.
  pub fn send(&mut self, frames: &Msg) -> Result<Sent, SocketError> {
    match self.kind {
      SocketType::Dealer | SocketType::Req | SocketType::Push => self.send_round_robin(frames),
      SocketType::Router | SocketType::Rep => self.send_routed(frames),
      SocketType::Pub | SocketType::XPub => {
        let mut sent = Sent::Dropped;
        for p in &mut self.ports {
          if let Io::Pub(publisher) = &mut p.io {
            publisher.send(frames.clone())?;
            sent = Sent::To(p.id);
          }
        }
        Ok(sent)
      }
      SocketType::XSub => {
        match frames.as_slice() {
          [f] if f.first() == Some(&1) => self.subscribe(&f[1..]),
          [f] if f.first() == Some(&0) => self.unsubscribe(&f[1..]),
          _ => {}
        }
        Ok(Sent::Dropped)
      }
      SocketType::Sub | SocketType::Pull => Err(SocketError::NotSupported(format!(
        "send on a {:?} socket",
        self.kind
      ))),
    }
  }

  fn send_round_robin(&mut self, frames: &Msg) -> Result<Sent, SocketError> {
    let n = self.ports.len();
    for k in 0..n {
      let i = (self.next_send + k) % n;
      let port = &mut self.ports[i];
      let r = match &mut port.io {
        Io::Dealer(d) => d.send(frames.clone()),
        Io::Push(p) => p.send(frames.clone()),
        _ => continue,
      };
      match r {
        Ok(()) => {
          self.next_send = i + 1;
          return Ok(Sent::To(port.id));
        }
        Err(TransportError::WouldBlock | TransportError::Closed) => {}
        Err(e) => return Err(e.into()),
      }
    }
    Ok(Sent::WouldBlock)
  }

  fn send_routed(&mut self, frames: &Msg) -> Result<Sent, SocketError> {
    let Some(id) = frames.first() else {
      return Err(TransportError::Invalid("message has no frames".into()).into());
    };
    if frames.len() < 2 {
      return Err(
        TransportError::Invalid("ROUTER send needs an identity and at least one frame".into())
          .into(),
      );
    }
    for port in &mut self.ports {
      let r = match &mut port.io {
        Io::RouterConn { id: peer, dealer } if peer == id => dealer.send(frames[1..].to_vec()),
        Io::Router(router) => router.send(frames.clone()),
        _ => continue,
      };
      match r {
        Ok(()) => return Ok(Sent::To(port.id)),
        Err(TransportError::Unroutable) => {}
        // ROUTER never blocks: a full peer drops the message (libzmq without ROUTER_MANDATORY).
        Err(TransportError::WouldBlock | TransportError::Closed) => return Ok(Sent::Dropped),
        Err(e) => return Err(e.into()),
      }
    }
    Ok(Sent::Dropped)
  }

  /// Adds one subscription to `prefix` (SUB/XSUB), on every port.
  pub fn subscribe(&mut self, prefix: &[u8]) {
    if let Some((_, n)) = self.subs.iter_mut().find(|(p, _)| p[..] == *prefix) {
      *n += 1;
      return;
    }
    self.subs.push((Bytes::copy_from_slice(prefix), 1));
    for p in &mut self.ports {
      if let Io::Sub(s) = &mut p.io {
        s.subscribe(prefix);
      }
    }
  }

  /// Removes one subscription to `prefix`; the filter goes when its count reaches zero.
  pub fn unsubscribe(&mut self, prefix: &[u8]) {
    let Some(i) = self.subs.iter().position(|(p, _)| p[..] == *prefix) else {
      return;
    };
    self.subs[i].1 -= 1;
    if self.subs[i].1 > 0 {
      return;
    }
    self.subs.remove(i);
    for p in &mut self.ports {
      if let Io::Sub(s) = &mut p.io {
        s.unsubscribe(prefix);
      }
    }
  }

  /// Next message from any port, fairly: `(port id, frames)`. Cancel-safe; pending with no ports.
  pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<(usize, Msg)> {
    let n = self.ports.len();
    for k in 0..n {
      let i = (self.next_recv + k) % n;
      let port = &mut self.ports[i];
      // Every transport recv is cancel-safe, so a fresh future per poll loses nothing and
      // leaves the port's waker registered.
      let fut = pin!(port.io.recv());
      if let Poll::Ready(Ok(m)) = fut.poll(cx) {
        self.next_recv = i + 1;
        return Poll::Ready((port.id, m));
      }
    }
    Poll::Pending
  }

  /// Async form of [`Ports::poll_recv`].
  pub async fn recv(&mut self) -> (usize, Msg) {
    std::future::poll_fn(|cx| self.poll_recv(cx)).await
  }
}
