//! The I/O end of a link: a zmq.rs socket, a connector's inproc pipe, or a binder's inproc peers,
//! each turned into the same events and send/subscribe operations for the pump in `link.rs`.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::channel::mpsc as fmpsc;
use tokio::sync::mpsc::error::TrySendError;
use zeromq::SocketEvent;

use super::inproc::{self, InprocPeers, PipeEnd};
use super::link::{count_drop, LinkSpec};
use super::zsock::{wait_disconnected, SendOutcome, ZSock};
use super::{Endpoint, Msg, SocketKind, TransportError};

/// One I/O end of a link.
pub(crate) enum Link {
  /// tcp/ipc through zmq.rs; `mon` is set for connecting links (bound ones never go down).
  Zmq {
    sock: ZSock,
    mon: Option<fmpsc::Receiver<SocketEvent>>,
  },
  /// A connector's inproc pipe; `filter` holds the peer's subscriptions when we are PUB.
  Pipe { end: PipeEnd, filter: Vec<Bytes> },
  /// A binder's inproc peers (PULL, PUB, SUB binds).
  Bound(InprocPeers),
}

/// What the link produced.
pub(crate) enum Ev {
  /// A message for the user.
  In(Msg),
  /// Something handled internally (e.g. a subscription update).
  Idle,
  /// The peer is gone.
  Down,
  /// A message from the user to send (`None`: the user side is gone).
  Out(Option<Msg>),
  /// The subscription set changed (`None`: the user side is gone).
  Subs(Option<Vec<Bytes>>),
}

/// What the pump does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
  Go,
  Down,
  Closed,
}

/// `[1, prefix..]` subscribes, `[0, prefix..]` unsubscribes (ZMTP 3.0 SUB wire form).
pub(crate) fn sub_msg(on: bool, prefix: &[u8]) -> Msg {
  let mut b = BytesMut::with_capacity(prefix.len() + 1);
  b.put_u8(u8::from(on));
  b.extend_from_slice(prefix);
  vec![b.freeze()]
}

/// Applies a subscription message received by a PUB; other messages are ignored.
pub(crate) fn update_filter(filter: &mut Vec<Bytes>, m: &Msg) {
  let [frame] = m.as_slice() else { return };
  match frame.first() {
    Some(1) => filter.push(frame.slice(1..)),
    Some(0) => {
      if let Some(i) = filter.iter().position(|p| p[..] == frame[1..]) {
        filter.remove(i);
      }
    }
    _ => {}
  }
}

/// Whether a PUB message passes a subscriber's prefixes.
pub(crate) fn matches(filter: &[Bytes], m: &Msg) -> bool {
  let Some(first) = m.first() else { return false };
  filter.iter().any(|p| first.starts_with(p))
}

async fn wait_mon(mon: &mut Option<fmpsc::Receiver<SocketEvent>>) {
  match mon {
    Some(m) => wait_disconnected(m).await,
    None => std::future::pending().await,
  }
}

impl Link {
  /// Opens a connecting link: a zmq.rs connect, or an inproc connect accepted by a binder.
  pub(crate) async fn open(ep: &Endpoint, spec: &LinkSpec) -> Result<Link, TransportError> {
    if let Endpoint::Inproc(name) = ep {
      let p = inproc::connect(name, spec.kind, spec.identity.clone(), spec.opts.hwm);
      p.accepted.await.map_err(|_| TransportError::Closed)?;
      return Ok(Link::Pipe {
        end: p.end,
        filter: Vec::new(),
      });
    }
    let mut sock = ZSock::new(spec.kind, spec.identity.as_ref(), spec.opts.connect_timeout)?;
    let mon = sock.monitor();
    sock.connect(&ep.to_string()).await?;
    Ok(Link::Zmq {
      sock,
      mon: Some(mon),
    })
  }

  /// Next event of this end. Cancel-safe.
  pub(crate) async fn next(&mut self, kind: SocketKind) -> Ev {
    match self {
      Link::Zmq { sock, mon } => {
        let connecting = mon.is_some();
        tokio::select! {
          r = sock.recv() => match r {
            Ok(m) => Ev::In(m),
            // A broken peer stream: fatal for a connection, routine for a bind.
            Err(_) if connecting => Ev::Down,
            Err(_) => Ev::Idle,
          },
          _ = wait_mon(mon) => Ev::Down,
        }
      }
      Link::Pipe { end, filter } => match end.rx.recv().await {
        None => Ev::Down,
        Some(m) if kind == SocketKind::Pub => {
          update_filter(filter, &m);
          Ev::Idle
        }
        // XPUB keeps the filter too, and hands the subscription message up.
        Some(m) if kind == SocketKind::XPub => {
          update_filter(filter, &m);
          Ev::In(m)
        }
        Some(m) => Ev::In(m),
      },
      Link::Bound(peers) => {
        let (idx, m) = peers.recv().await;
        match kind {
          SocketKind::Pub => {
            update_filter(&mut peers.peers[idx].subs, &m);
            Ev::Idle
          }
          SocketKind::XPub => {
            update_filter(&mut peers.peers[idx].subs, &m);
            Ev::In(m)
          }
          _ => Ev::In(m),
        }
      }
    }
  }

  /// Sends one user message; on `Down`, a message that was not sent may be left in `carry`.
  pub(crate) async fn send(&mut self, m: Msg, spec: &LinkSpec, carry: &mut Option<Msg>) -> Step {
    match self {
      Link::Zmq { sock, mon } => send_zmq(sock, mon.is_some(), m, carry).await,
      Link::Pipe { end, filter } if matches!(spec.kind, SocketKind::Pub | SocketKind::XPub) => {
        if !matches(filter, &m) {
          return Step::Go;
        }
        match end.tx.try_send(m) {
          Ok(()) => Step::Go,
          Err(TrySendError::Full(_)) => {
            count_drop(&spec.drops);
            Step::Go
          }
          Err(TrySendError::Closed(_)) => Step::Down,
        }
      }
      Link::Pipe { end, .. } => match end.tx.send(m).await {
        Ok(()) => Step::Go,
        Err(e) => {
          *carry = Some(e.0);
          Step::Down
        }
      },
      Link::Bound(peers) => {
        // Only PUB binds send through inproc peers: fan out to matching subscribers, drop at HWM.
        peers.accept_pending();
        for p in &peers.peers {
          if matches(&p.subs, &m) && p.tx.try_send(m.clone()).is_err() {
            count_drop(&spec.drops);
          }
        }
        Step::Go
      }
    }
  }

  /// Brings the peer's view of our subscriptions from `applied` to `now`.
  pub(crate) async fn apply_subs(&mut self, applied: &mut Vec<Bytes>, now: Vec<Bytes>) -> Step {
    let mut msgs: Vec<Msg> = now
      .iter()
      .filter(|p| !applied.contains(p))
      .map(|p| sub_msg(true, p))
      .collect();
    msgs.extend(
      applied
        .iter()
        .filter(|p| !now.contains(p))
        .map(|p| sub_msg(false, p)),
    );
    match self {
      Link::Zmq { sock, mon } => {
        for m in msgs {
          if let SendOutcome::Failed(_) = sock.send(m).await {
            if mon.is_some() {
              return Step::Down;
            }
          }
        }
      }
      Link::Pipe { end, .. } => {
        for m in msgs {
          if end.tx.send(m).await.is_err() {
            return Step::Down;
          }
        }
      }
      Link::Bound(peers) => {
        peers.welcome = now.iter().map(|p| sub_msg(true, p)).collect();
        for p in &peers.peers {
          for m in &msgs {
            let _ = p.tx.try_send(m.clone());
          }
        }
      }
    }
    *applied = now;
    Step::Go
  }
}

/// Pause before retrying a bound PUSH send that found no connected peer (libzmq would block).
const NO_PEER_RETRY: Duration = Duration::from_millis(10);

async fn send_zmq(sock: &mut ZSock, connecting: bool, mut m: Msg, carry: &mut Option<Msg>) -> Step {
  loop {
    match sock.send(m).await {
      SendOutcome::Sent => return Step::Go,
      SendOutcome::Returned(back) if connecting => {
        *carry = Some(back);
        return Step::Down;
      }
      SendOutcome::Returned(back) => {
        m = back;
        tokio::time::sleep(NO_PEER_RETRY).await;
      }
      // A malformed message is dropped; the connection itself is fine.
      SendOutcome::Failed(TransportError::Invalid(_)) => return Step::Go,
      SendOutcome::Failed(_) if connecting => return Step::Down,
      SendOutcome::Failed(_) => return Step::Go,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn subscription_messages_update_a_pub_filter() {
    let mut f = Vec::new();
    update_filter(&mut f, &sub_msg(true, b"ab"));
    update_filter(&mut f, &sub_msg(true, b""));
    assert!(matches(&f, &vec![Bytes::from_static(b"zz")]));
    update_filter(&mut f, &sub_msg(false, b""));
    assert!(!matches(&f, &vec![Bytes::from_static(b"zz")]));
    assert!(matches(&f, &vec![Bytes::from_static(b"abc"), Bytes::new()]));
    assert!(!matches(&f, &vec![]));
  }
}
