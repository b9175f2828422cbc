//! The listening side of the driver on a JS thread's libuv loop: a non-blocking tcp or ipc listener watched
//! by a `uv_poll_t` ([`super::io`]'s readiness), accepting [`UvStream`]s on the same loop.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::task::{Context, Poll as TaskPoll};

use super::handle::LoopRef;
use super::io::{UvStream, Watched};
use crate::driver::net::StdStream;
use crate::driver::reactor::IoListener;

/// What a [`UvListener`] listens on.
enum Listening {
  Tcp(TcpListener),
  /// With the path to remove on drop.
  Unix(UnixListener, PathBuf),
}

/// A listening socket (tcp or ipc) on the loop.
pub struct UvListener {
  listener: Listening,
  watched: Watched,
  lp: LoopRef,
}

impl UvListener {
  /// Binds `addr` (non-blocking) and watches it on `lp`.
  ///
  /// # Errors
  /// The bind's error, or libuv refused the descriptor.
  pub fn bind(lp: LoopRef, addr: SocketAddr) -> io::Result<Self> {
    Self::adopt(lp, TcpListener::bind(addr)?)
  }

  /// Watches a listener bound already.
  ///
  /// # Errors
  /// libuv refused the descriptor.
  pub fn adopt(lp: LoopRef, listener: TcpListener) -> io::Result<Self> {
    listener.set_nonblocking(true)?;
    Self::watch(lp, Listening::Tcp(listener))
  }

  /// Watches an ipc listener bound already at `path` (the file is removed when the listener drops).
  ///
  /// # Errors
  /// libuv refused the descriptor.
  pub fn adopt_unix(lp: LoopRef, listener: UnixListener, path: PathBuf) -> io::Result<Self> {
    listener.set_nonblocking(true)?;
    Self::watch(lp, Listening::Unix(listener, path))
  }

  fn watch(lp: LoopRef, listener: Listening) -> io::Result<Self> {
    let fd = Self::fd_of(&listener);
    let watched = Watched::new(lp, fd).map_err(io::Error::other)?;
    Ok(Self {
      listener,
      watched,
      lp,
    })
  }

  fn fd_of(listener: &Listening) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    match listener {
      Listening::Tcp(l) => l.as_raw_fd(),
      Listening::Unix(l, _) => l.as_raw_fd(),
    }
  }

  /// The bound address (the real port for port 0).
  ///
  /// # Errors
  /// As `getsockname`; `Unsupported` for an ipc listener.
  pub fn local_addr(&self) -> io::Result<SocketAddr> {
    match &self.listener {
      Listening::Tcp(l) => l.local_addr(),
      Listening::Unix(..) => Err(io::ErrorKind::Unsupported.into()),
    }
  }

  fn accept(&self) -> io::Result<StdStream> {
    match &self.listener {
      Listening::Tcp(l) => {
        let (stream, _) = l.accept()?;
        // Small messages must not wait for Nagle (as libzmq).
        stream.set_nodelay(true)?;
        Ok(StdStream::Tcp(stream))
      }
      Listening::Unix(l, _) => Ok(StdStream::Unix(l.accept()?.0)),
    }
  }
}

impl Drop for UvListener {
  fn drop(&mut self) {
    if let Listening::Unix(_, path) = &self.listener {
      let _ = std::fs::remove_file(path);
    }
  }
}

impl IoListener for UvListener {
  type Stream = UvStream;

  fn poll_accept(&self, cx: &mut Context<'_>) -> TaskPoll<io::Result<UvStream>> {
    loop {
      if self.watched.poll_dir(cx, false).is_pending() {
        return TaskPoll::Pending;
      }
      match self.watched.consumed(self.accept(), false) {
        Ok(stream) => {
          let ready = match &stream {
            StdStream::Tcp(s) => s.set_nonblocking(true),
            StdStream::Unix(s) => s.set_nonblocking(true),
          }
          .and_then(|()| UvStream::new(self.lp, stream).map_err(io::Error::other));
          return TaskPoll::Ready(ready);
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
        Err(e) => return TaskPoll::Ready(Err(e)),
      }
    }
  }

  fn raw_fd(&self) -> i64 {
    i64::from(Self::fd_of(&self.listener))
  }
}
