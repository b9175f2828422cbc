//! `ZMQ_STREAM`: a socket whose peers are plain TCP (or ipc) byte streams, no ZMTP. Each connection gets a
//! routing id (libzmq's generated `00` + u32); the application receives `[id, bytes]` for what arrived,
//! and `[id, ""]` when a connection opens and when it closes. Sending `[id, bytes...]` writes the bytes
//! raw; `[id, ""]` closes that connection; an unknown id is `EHOSTUNREACH`. Connected endpoints are dialled
//! again after `ZMQ_RECONNECT_IVL` when they fail or close.
//!
//! One loop owns the listeners and connections, with the same controls and event records as every classic
//! socket. It is a poll function over a [`Reactor`] ([`StreamLoop::poll`]), so it runs as a task on the
//! libuv loop of the JS thread that made the socket, or on the runtime thread (`ZMQBUS_THREAD=runtime`).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc::UnboundedReceiver;

use super::eventloop::{normalize, Control, MAX_LINGER};
use super::options::SocketOptions;
use super::turn::{run_turns, Turn};
use super::{SocketError, C_SEND, E_BOUND, E_ERROR, E_MESSAGE, E_UNBOUND};
use crate::boundary::batch::Records;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::reactor::{IoListener, IoSleep, IoStream, Reactor};
use crate::driver::{bind_net, PeerEventKind};
use crate::transport::{Endpoint, Msg};
use crate::zmtp::socket::SendError;

/// Bytes read from one connection per turn.
const READ_CHUNK: usize = 64 * 1024;

mod io;
mod monitor;

struct Conn<S> {
  id: Bytes,
  stream: S,
  /// The endpoint dialled, or the bound one that accepted it (for monitor events).
  endpoint: String,
  wbuf: BytesMut,
  /// The dialer that made it.
  dialer: Option<usize>,
  connecting: bool,
  /// Close once `wbuf` is written (the application sent `[id, ""]`).
  closing: bool,
}

struct Dialer<T> {
  endpoint: Endpoint,
  retry: Option<T>,
  live: bool,
}

/// A STREAM socket's loop on reactor `R`, delivering into `D`.
pub struct StreamLoop<R: Reactor, D: Deliver> {
  reactor: R,
  outbox: Outbox<D>,
  controls: UnboundedReceiver<Control>,
  opts: SocketOptions,
  listeners: Vec<(String, String, R::Listener)>,
  conns: Vec<Conn<R::Stream>>,
  dialers: Vec<Option<Dialer<R::Sleep>>>,
  next_id: u32,
  /// Event records for JS, moved to the outbox after each turn (the outbox is polled beside this loop).
  out: Vec<(u8, Vec<Bytes>)>,
  paused: bool,
  /// `monitor()` is on: peer events go to JS as `E_MONITOR` records (see `monitor`).
  monitoring: bool,
  closing: Option<Closing<R::Sleep>>,
  /// End each poll once a batch went to JS (on a JS thread, whose task delivers it after the poll).
  pub yield_on_delivery: bool,
}

/// Closing: what is written stays for at most the linger (`deadline`), woken by `timer`.
struct Closing<T> {
  deadline: Instant,
  timer: T,
}

impl<R: Reactor, D: Deliver> StreamLoop<R, D> {
  /// A loop taking `controls`, on `reactor`; nothing is bound or dialled until a control says so.
  pub fn new(outbox: Outbox<D>, controls: UnboundedReceiver<Control>, reactor: R) -> Self {
    Self {
      reactor,
      outbox,
      controls,
      opts: SocketOptions::default(),
      listeners: Vec::new(),
      conns: Vec::new(),
      dialers: Vec::new(),
      next_id: rand::random(),
      out: Vec::new(),
      paused: false,
      monitoring: false,
      closing: None,
      yield_on_delivery: false,
    }
  }

  /// Runs turns until nothing is ready; `Ready` once closed (`E_CLOSED` delivered).
  pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    run_turns(cx, self.yield_on_delivery, |cx| {
      if self.closing.is_some() {
        return Turn::Done(self.poll_close(cx));
      }
      let mut busy = self.poll_controls(cx);
      if self.closing.is_some() {
        return Turn::Busy { delivered: false };
      }
      busy |= self.poll_io(cx).is_ready();
      let delivered = self.flush();
      busy |= self.outbox.has_pending() && self.outbox.poll_taken(cx).is_ready();
      Turn::of(busy, delivered)
    })
  }

  /// Acts on one control now (`bindSync`), after those queued before it.
  pub fn handle_control_now(&mut self, control: Control) {
    while self.closing.is_none() {
      let Ok(queued) = self.controls.try_recv() else {
        break;
      };
      self.take_control(queued);
    }
    if self.closing.is_none() {
      self.take_control(control);
    }
  }

  /// Moves this turn's records to the outbox and hands a batch to JS; true when one went.
  fn flush(&mut self) -> bool {
    for (kind, frames) in self.out.drain(..) {
      self.outbox.push(kind, &frames);
    }
    self.outbox.flush()
  }

  /// Takes every queued control; true when there was one.
  fn poll_controls(&mut self, cx: &mut Context<'_>) -> bool {
    let mut busy = false;
    while self.closing.is_none() {
      match self.controls.poll_recv(cx) {
        Poll::Ready(Some(c)) => self.take_control(c),
        // The handle is gone: nobody waits for what is queued.
        Poll::Ready(None) => self.begin_close(Some(Duration::ZERO)),
        Poll::Pending => break,
      }
      busy = true;
    }
    busy
  }

  fn take_control(&mut self, c: Control) {
    match c {
      Control::Close { linger } => self.begin_close(linger),
      c => self.handle_control(c),
    }
  }

  fn begin_close(&mut self, linger: Option<Duration>) {
    // A closed socket's monitor ends with it (as the engine's sockets); what arrives now is not read.
    self.monitoring = false;
    self.paused = true;
    let deadline = Instant::now() + linger.unwrap_or(MAX_LINGER).min(MAX_LINGER);
    let mut timer = self.reactor.sleep();
    timer.reset(deadline);
    self.closing = Some(Closing { deadline, timer });
  }

  fn push(&mut self, kind: u8, frames: &[&[u8]]) {
    let frames = frames.iter().map(|f| Bytes::copy_from_slice(f)).collect();
    self.out.push((kind, frames));
  }

  fn deliver(&mut self, id: &Bytes, data: &[u8]) {
    self.push(E_MESSAGE, &[&id[..], data]);
  }

  fn error(&mut self, req: &[u8], err: &SocketError) {
    let message = err.to_string();
    self.push(E_ERROR, &[req, err.code().as_bytes(), message.as_bytes()]);
  }

  fn generate_id(&mut self) -> Bytes {
    let mut id = BytesMut::with_capacity(5);
    id.put_u8(0);
    id.put_u32(self.next_id);
    self.next_id = self.next_id.wrapping_add(1);
    id.freeze()
  }

  fn add_conn(
    &mut self,
    stream: R::Stream,
    endpoint: String,
    dialer: Option<usize>,
    connecting: bool,
  ) {
    let id = self.generate_id();
    if !connecting {
      self.deliver(&id, b"");
    }
    self.conns.push(Conn {
      id,
      stream,
      endpoint,
      wbuf: BytesMut::new(),
      dialer,
      connecting,
      closing: false,
    });
  }

  fn handle_control(&mut self, c: Control) {
    match c {
      Control::Batch(batch) => self.handle_batch(batch),
      Control::Bind { req, ep, reply } => {
        let r = self.bind(&ep);
        if let Err(e) = &r {
          self.bind_failed(&ep, e);
        }
        match (reply, r) {
          // The JS thread waits in bindSync; if it gave up, nobody reads the answer.
          (Some(reply), r) => drop(reply.send(r.map_err(|e| (e.code(), e.to_string())))),
          (None, Ok(resolved)) => self.push(E_BOUND, &[req.as_bytes(), resolved.as_bytes()]),
          (None, Err(e)) => self.error(req.as_bytes(), &e),
        }
      }
      Control::Unbind { req, ep } => {
        let given = normalize(&ep).map(|e| e.to_string()).unwrap_or_default();
        let at =
          (self.listeners.iter()).position(|(g, r, _)| *g == given || *r == given || *r == ep);
        match at {
          Some(i) => {
            let (_, resolved, listener) = self.listeners.remove(i);
            self.peer_event(PeerEventKind::Closed, listener.raw_fd(), &resolved);
            drop(listener);
            self.push(E_UNBOUND, &[req.as_bytes(), resolved.as_bytes()]);
          }
          None => self.error(req.as_bytes(), &SocketError::NotFound(ep)),
        }
      }
      Control::Connect(ep) => match normalize(&ep) {
        Ok(endpoint) => {
          self.dialers.push(Some(Dialer {
            endpoint,
            retry: None,
            live: false,
          }));
          self.dial(self.dialers.len() - 1);
        }
        Err(e) => self.error(b"", &e),
      },
      Control::Disconnect(ep) => self.disconnect(&ep),
      Control::Options(opts) => self.opts = *opts,
      Control::Stats(reply) => drop(reply.send("{}".into())),
      Control::Pause => self.paused = true,
      Control::Resume => self.paused = false,
      Control::Monitor(on) => self.monitoring = on,
      // JS proxies a STREAM socket (zmq.proxy takes none of its types).
      Control::Proxy(_)
      | Control::Subscribe(_)
      | Control::Unsubscribe(_)
      | Control::Close { .. } => {}
    }
  }

  fn bind(&mut self, ep: &str) -> Result<String, SocketError> {
    let endpoint = normalize(ep)?;
    let (listener, resolved) = bind_net(&self.reactor, self.opts.tcp, &endpoint)?;
    self.peer_event(PeerEventKind::Listening, listener.raw_fd(), &resolved);
    self
      .listeners
      .push((endpoint.to_string(), resolved.clone(), listener));
    Ok(resolved)
  }

  fn disconnect(&mut self, ep: &str) {
    let given = normalize(ep).map(|e| e.to_string()).unwrap_or_default();
    let found = (self.dialers.iter())
      .position(|d| d.as_ref().is_some_and(|d| d.endpoint.to_string() == given));
    let Some(i) = found else {
      return self.error(b"", &SocketError::NotFound(ep.to_string()));
    };
    self.dialers[i] = None;
    if let Some(c) = self.conns.iter().position(|c| c.dialer == Some(i)) {
      self.end_conn(c);
    }
  }

  /// Starts one attempt of dialer `i`; a failure at once schedules the next.
  fn dial(&mut self, i: usize) {
    let Some(Some(dialer)) = self.dialers.get_mut(i) else {
      return;
    };
    let endpoint = dialer.endpoint.to_string();
    match self.reactor.connect(&dialer.endpoint) {
      Ok((stream, pending)) => {
        dialer.live = true;
        let (kind, value) = if pending {
          (PeerEventKind::ConnectDelayed, monitor::EINPROGRESS)
        } else {
          (PeerEventKind::Connected, stream.raw_fd())
        };
        self.peer_event(kind, value, &endpoint);
        self.add_conn(stream, endpoint, Some(i), pending);
      }
      Err(_) => {
        // libzmq closes the socket of a connect refused at once (its fd is gone with it here: -1).
        self.peer_event(PeerEventKind::Closed, -1, &endpoint);
        self.schedule_retry(i);
      }
    }
  }

  fn schedule_retry(&mut self, i: usize) {
    let ivl = self.opts.reconnect_ivl.max(Duration::from_millis(1));
    let mut timer = self.reactor.sleep();
    timer.reset(Instant::now() + ivl);
    let Some(Some(dialer)) = self.dialers.get_mut(i) else {
      return;
    };
    dialer.live = false;
    dialer.retry = Some(timer);
    let endpoint = dialer.endpoint.to_string();
    let ms = i64::try_from(ivl.as_millis()).unwrap_or(i64::MAX);
    self.peer_event(PeerEventKind::ConnectRetried, ms, &endpoint);
  }

  /// Removes connection `c`; the application gets `[id, ""]` if it had seen it open.
  fn end_conn(&mut self, c: usize) {
    let conn = self.conns.swap_remove(c);
    // Closed by the application (`[id, ""]`): no event, as the engine's local closes. A connect that
    // failed is closed; an open connection the peer ended (or that failed) is disconnected.
    let fd = conn.stream.raw_fd();
    if conn.connecting {
      self.peer_event(PeerEventKind::Closed, fd, &conn.endpoint);
    } else if !conn.closing {
      self.peer_event(PeerEventKind::Disconnected, fd, &conn.endpoint);
    }
    if !conn.connecting {
      self.deliver(&conn.id, b"");
    }
    if let Some(i) = conn.dialer {
      self.schedule_retry(i);
    }
  }

  fn handle_batch(&mut self, batch: Bytes) {
    for record in Records::new(batch) {
      let Ok(record) = record else { break };
      if record.kind == C_SEND {
        if let Err(e) = self.send(record.frames) {
          self.error(b"", &SocketError::Send(e));
        }
      }
    }
  }

  fn send(&mut self, frames: Msg) -> Result<(), SendError> {
    let [id, body @ ..] = frames.as_slice() else {
      return Err(SendError::Invalid);
    };
    let conn = (self.conns.iter_mut())
      .find(|c| c.id == *id && !c.closing)
      .ok_or(SendError::Unroutable)?;
    if body.iter().all(|f| f.is_empty()) {
      conn.closing = true;
    }
    for f in body {
      conn.wbuf.extend_from_slice(f);
    }
    Ok(())
  }
}
