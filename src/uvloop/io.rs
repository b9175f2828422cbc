//! The driver's streams, listeners and timer on a JS thread's libuv loop ([`crate::driver::reactor`]'s traits):
//! a non-blocking std socket watched by a `uv_poll_t`, readiness kept as tokio keeps it (set by libuv's
//! callback, cleared by the `WouldBlock` that consumed it), wakers woken from the callback.
//!
//! libuv polls level-triggered, so a poll handle asks only for what someone waits for: after a callback the
//! direction it reported is dropped from the watch until the next `WouldBlock` re-registers it.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::rc::Rc;
use std::task::{Context, Poll as TaskPoll, Waker};
use std::time::Instant;

use bytes::{BufMut, BytesMut};

use super::ffi::{READABLE, WRITABLE};
use super::handle::{LoopRef, Poll, Refable, Timer, UvError};
use super::listen::UvListener;
use crate::driver::net::{bind_address, connect_socket, StdStream};
use crate::driver::reactor::{IoSleep, IoStream, Reactor};
use crate::transport::{Endpoint, TransportError};

#[derive(Default)]
struct Readiness {
  readable: bool,
  writable: bool,
  read_waker: Option<Waker>,
  write_waker: Option<Waker>,
}

/// A socket and its poll handle; readiness is shared with the handle's callback.
pub(super) struct Watched {
  poll: RefCell<Poll>,
  ready: Rc<RefCell<Readiness>>,
}

impl Watched {
  pub(super) fn new(lp: LoopRef, fd: std::os::fd::RawFd) -> Result<Self, UvError> {
    let ready = Rc::new(RefCell::new(Readiness::default()));
    let seen = ready.clone();
    let poll = Poll::new(
      lp,
      fd,
      Box::new(move |status, events| on_ready(&seen, status, events)),
    )?;
    // The object's owner decides whether the process stays alive (the facade's keep-alive, as `net`'s
    // ref/unref), never a socket of ours by itself.
    poll.set_ref(false);
    Ok(Self {
      poll: RefCell::new(poll),
      ready,
    })
  }

  /// Registers `cx` for one direction; `Ready` when that direction may make progress.
  pub(super) fn poll_dir(&self, cx: &mut Context<'_>, write: bool) -> TaskPoll<io::Result<()>> {
    let mut r = self.ready.borrow_mut();
    let (ready, waker) = if write {
      (r.writable, &mut r.write_waker)
    } else {
      (r.readable, &mut r.read_waker)
    };
    if ready {
      return TaskPoll::Ready(Ok(()));
    }
    match waker {
      Some(w) if w.will_wake(cx.waker()) => {}
      _ => *waker = Some(cx.waker().clone()),
    }
    drop(r);
    self.rewatch();
    TaskPoll::Pending
  }

  /// Watches exactly the directions someone waits for.
  fn rewatch(&self) {
    let r = self.ready.borrow();
    let mut events = 0;
    if r.read_waker.is_some() {
      events |= READABLE;
    }
    if r.write_waker.is_some() {
      events |= WRITABLE;
    }
    drop(r);
    self.poll.borrow_mut().want(events);
  }

  /// The result of an I/O call: a `WouldBlock` clears the readiness it consumed.
  pub(super) fn consumed<T>(&self, result: io::Result<T>, write: bool) -> io::Result<T> {
    if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
      let mut r = self.ready.borrow_mut();
      if write {
        r.writable = false;
      } else {
        r.readable = false;
      }
    }
    result
  }
}

/// libuv's poll callback: marks what is ready, wakes who waits for it, stops watching it.
fn on_ready(ready: &Rc<RefCell<Readiness>>, status: i32, events: i32) {
  let mut r = ready.borrow_mut();
  // An error (a reset connection) makes both directions "ready": the next call returns the error.
  let (read, write) = if status < 0 {
    (true, true)
  } else {
    (events & READABLE != 0, events & WRITABLE != 0)
  };
  let mut wake = Vec::with_capacity(2);
  if read {
    r.readable = true;
    wake.extend(r.read_waker.take());
  }
  if write {
    r.writable = true;
    wake.extend(r.write_waker.take());
  }
  drop(r);
  for w in wake {
    w.wake();
  }
}

/// A connected stream (tcp or ipc) on the loop.
pub struct UvStream {
  stream: StdStream,
  watched: Watched,
}

impl UvStream {
  /// Watches a non-blocking `stream` on `lp`.
  ///
  /// # Errors
  /// libuv refused the descriptor.
  pub fn new(lp: LoopRef, stream: StdStream) -> Result<Self, UvError> {
    use std::os::fd::AsRawFd;
    let fd = match &stream {
      StdStream::Tcp(s) => s.as_raw_fd(),
      StdStream::Unix(s) => s.as_raw_fd(),
    };
    let watched = Watched::new(lp, fd)?;
    Ok(Self { stream, watched })
  }

  fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
    match &self.stream {
      StdStream::Tcp(s) => (&*s).read(buf),
      StdStream::Unix(s) => (&*s).read(buf),
    }
  }
}

impl IoStream for UvStream {
  fn poll_read_ready(&self, cx: &mut Context<'_>) -> TaskPoll<io::Result<()>> {
    self.watched.poll_dir(cx, false)
  }

  fn poll_write_ready(&self, cx: &mut Context<'_>) -> TaskPoll<io::Result<()>> {
    self.watched.poll_dir(cx, true)
  }

  fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
    // A socket drained by the last read waits for libuv to report it again: no read that would only
    // find EAGAIN (as Node's own sockets, and tokio after a short read).
    if !self.watched.ready.borrow().readable {
      return Err(io::ErrorKind::WouldBlock.into());
    }
    if buf.capacity() == buf.len() {
      buf.reserve(64);
    }
    let spare = buf.chunk_mut();
    let room = spare.len();
    // SAFETY: `read` only writes into the slice; the bytes it reports are initialised before set_len.
    let slice = unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr(), room) };
    let result = self.read(slice);
    if let Ok(n) = result {
      // SAFETY: the kernel wrote `n` bytes into the spare capacity.
      unsafe { buf.advance_mut(n) };
      if n > 0 && n < room {
        // Less than asked for: the kernel's buffer was empty when the read returned.
        self.watched.ready.borrow_mut().readable = false;
      }
    }
    self.watched.consumed(result, false)
  }

  fn try_write(&self, data: &[u8]) -> io::Result<usize> {
    let result = match &self.stream {
      StdStream::Tcp(s) => (&*s).write(data),
      StdStream::Unix(s) => (&*s).write(data),
    };
    self.watched.consumed(result, true)
  }

  fn finish_connect(&self) -> io::Result<()> {
    let (error, connected) = match &self.stream {
      StdStream::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
      StdStream::Unix(s) => (s.take_error()?, Ok(())),
    };
    error.map_or(connected, Err)
  }

  fn peer(&self) -> String {
    match &self.stream {
      StdStream::Tcp(s) => s
        .peer_addr()
        .map(|a| format!("tcp://{a}"))
        .unwrap_or_else(|_| "tcp://?".into()),
      StdStream::Unix(_) => "ipc".into(),
    }
  }

  fn raw_fd(&self) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(match &self.stream {
      StdStream::Tcp(s) => s.as_raw_fd(),
      StdStream::Unix(s) => s.as_raw_fd(),
    })
  }
}

#[derive(Default)]
struct Fired {
  fired: bool,
  waker: Option<Waker>,
}

/// The driver's one timer on the loop (millisecond resolution, as libuv's).
pub struct UvSleep {
  timer: Timer,
  state: Rc<RefCell<Fired>>,
}

impl UvSleep {
  /// A timer on `lp` that has not been armed.
  ///
  /// # Errors
  /// No libuv.
  pub fn new(lp: LoopRef) -> Result<Self, UvError> {
    let state = Rc::new(RefCell::new(Fired::default()));
    let seen = state.clone();
    let timer = Timer::new(
      lp,
      Box::new(move || {
        let mut s = seen.borrow_mut();
        s.fired = true;
        let waker = s.waker.take();
        drop(s);
        if let Some(w) = waker {
          w.wake();
        }
      }),
    )?;
    timer.set_ref(false);
    Ok(Self { timer, state })
  }
}

impl IoSleep for UvSleep {
  fn reset(&mut self, at: Instant) {
    self.state.borrow_mut().fired = false;
    let wait = at.saturating_duration_since(Instant::now());
    // Round up: firing a millisecond late is fine, firing early would spin until the deadline.
    let ms = wait.as_micros().div_ceil(1000) as u64;
    self.timer.start(ms);
  }

  fn poll_fired(&mut self, cx: &mut Context<'_>) -> TaskPoll<()> {
    let mut s = self.state.borrow_mut();
    if s.fired {
      return TaskPoll::Ready(());
    }
    s.waker = Some(cx.waker().clone());
    TaskPoll::Pending
  }
}

/// The driver's reactor on a JS thread's libuv loop.
#[derive(Debug, Clone, Copy)]
pub struct UvReactor {
  lp: LoopRef,
}

impl UvReactor {
  /// The reactor of loop `lp`.
  ///
  /// # Errors
  /// No libuv in this process.
  pub fn new(lp: LoopRef) -> Result<Self, UvError> {
    super::ffi::uv()?;
    Ok(Self { lp })
  }
}

impl Reactor for UvReactor {
  type Stream = UvStream;
  type Listener = UvListener;
  type Sleep = UvSleep;
  type Datagram = super::datagram::UvDatagram;

  fn datagram(&self, socket: std::net::UdpSocket) -> io::Result<Self::Datagram> {
    super::datagram::UvDatagram::new(self.lp, socket)
  }

  fn sleep(&self) -> UvSleep {
    // libuv's uv_timer_init cannot fail (it only fills the handle), and `new` checked that libuv is here.
    UvSleep::new(self.lp).expect("uv_timer_init does not fail")
  }

  fn connect(&self, endpoint: &Endpoint) -> io::Result<(UvStream, bool)> {
    let (socket, pending) = connect_socket(endpoint)?;
    let stream = UvStream::new(self.lp, socket).map_err(io::Error::other)?;
    Ok((stream, pending))
  }

  fn bind(
    &self,
    endpoint: &Endpoint,
  ) -> impl std::future::Future<Output = Result<(UvListener, String), TransportError>> {
    // Bound at once, on the loop's thread; the future only carries the result.
    let result = match endpoint {
      Endpoint::Tcp { host, port } => bind_address(host, *port)
        .map_err(|e| TransportError::Endpoint(format!("{endpoint}: {e}")))
        .and_then(|addr| UvListener::bind(self.lp, addr).map_err(TransportError::Io))
        .and_then(|l| {
          let local = l.local_addr()?;
          let resolved = Endpoint::Tcp {
            host: local.ip().to_string(),
            port: local.port(),
          };
          Ok((l, resolved.to_string()))
        }),
      Endpoint::Ipc(path) => crate::driver::net::bind_ipc(path).and_then(|l| {
        let listener = UvListener::adopt_unix(self.lp, l, path.clone())?;
        Ok((listener, endpoint.to_string()))
      }),
      Endpoint::Inproc(_) => Err(TransportError::Endpoint(format!(
        "{endpoint}: inproc is not served by the network driver"
      ))),
    };
    std::future::ready(result)
  }

  fn adopt_tcp_listener(&self, listener: TcpListener) -> io::Result<UvListener> {
    UvListener::adopt(self.lp, listener)
  }

  fn adopt_ipc_listener(&self, listener: UnixListener, path: PathBuf) -> io::Result<UvListener> {
    UvListener::adopt_unix(self.lp, listener, path)
  }
}
