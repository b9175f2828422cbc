//! Listening sockets and accepted streams for tcp and ipc, behind one type each, polled without futures:
//! the driver asks for readiness with its own wakers and reads and writes with `try_*` calls.

use std::io;
use std::path::PathBuf;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::transport::{Endpoint, TransportError};

/// A bound tcp or ipc listener. Dropping it releases the port at once (and removes the ipc file).
pub enum Listener {
  /// `tcp://`
  Tcp(TcpListener),
  /// `ipc://`, with the path to remove on drop.
  Ipc(UnixListener, PathBuf),
}

/// An accepted connection.
pub enum Stream {
  /// A TCP stream (`TCP_NODELAY` set, as libzmq does).
  Tcp(TcpStream),
  /// A Unix-domain stream.
  Ipc(UnixStream),
}

impl Stream {
  /// The peer's address, for logs (`tcp://ip:port`, or `ipc` for a Unix-domain peer).
  pub fn peer(&self) -> String {
    match self {
      Stream::Tcp(s) => s
        .peer_addr()
        .map(|a| format!("tcp://{a}"))
        .unwrap_or_else(|_| "tcp://?".into()),
      Stream::Ipc(_) => "ipc".into(),
    }
  }
}

fn bind_error(e: io::Error) -> TransportError {
  if e.kind() == io::ErrorKind::AddrInUse {
    TransportError::AddrInUse(e.to_string())
  } else {
    TransportError::Io(e)
  }
}

impl Listener {
  /// Binds `endpoint` (tcp or ipc) and returns the listener with its resolved endpoint string.
  ///
  /// # Errors
  /// `Endpoint` for inproc or an unresolvable host, `AddrInUse`, `Io`.
  pub async fn bind(endpoint: &Endpoint) -> Result<(Listener, String), TransportError> {
    match endpoint {
      Endpoint::Tcp { host, port } => {
        let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), *port))
          .await
          .map_err(|e| TransportError::Endpoint(format!("{endpoint}: {e}")))?
          .collect();
        // IPv4 first, as libzmq without ZMQ_IPV6: `localhost` must not end up on ::1 only.
        let addr = (addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()))
          .copied()
          .ok_or_else(|| TransportError::Endpoint(format!("{endpoint}: no address")))?;
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local = listener.local_addr()?;
        let resolved = Endpoint::Tcp {
          host: local.ip().to_string(),
          port: local.port(),
        };
        Ok((Listener::Tcp(listener), resolved.to_string()))
      }
      Endpoint::Ipc(path) => {
        // libzmq unlinks a stale socket file before binding; a live listener there is refused instead.
        if path.exists() {
          if UnixStream::connect(path).await.is_ok() {
            return Err(TransportError::AddrInUse(endpoint.to_string()));
          }
          let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path).map_err(bind_error)?;
        Ok((Listener::Ipc(listener, path.clone()), endpoint.to_string()))
      }
      Endpoint::Inproc(_) => Err(TransportError::Endpoint(format!(
        "{endpoint}: inproc is not served by the network driver"
      ))),
    }
  }

  /// Polls for one accepted connection.
  pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Stream>> {
    match self {
      Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| {
        // Small messages must not wait for Nagle; a failure here only costs latency.
        let _ = s.set_nodelay(true);
        Stream::Tcp(s)
      }),
      Listener::Ipc(l, _) => l.poll_accept(cx).map_ok(|(s, _)| Stream::Ipc(s)),
    }
  }
}

impl Listener {
  /// The listening descriptor (for monitor events).
  pub fn raw_fd(&self) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(match self {
      Listener::Tcp(l) => l.as_raw_fd(),
      Listener::Ipc(l, _) => l.as_raw_fd(),
    })
  }
}

impl Drop for Listener {
  fn drop(&mut self) {
    if let Listener::Ipc(_, path) = self {
      let _ = std::fs::remove_file(path);
    }
  }
}

impl Stream {
  /// Registers `cx` for read readiness; `Ready` when a read may make progress.
  pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    match self {
      Stream::Tcp(s) => s.poll_read_ready(cx),
      Stream::Ipc(s) => s.poll_read_ready(cx),
    }
  }

  /// Registers `cx` for write readiness; `Ready` when a write may make progress.
  pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    match self {
      Stream::Tcp(s) => s.poll_write_ready(cx),
      Stream::Ipc(s) => s.poll_write_ready(cx),
    }
  }

  /// Reads into the spare capacity of `buf` (never zero-filled); `Ok(0)` is end of stream.
  pub fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
    match self {
      Stream::Tcp(s) => s.try_read_buf(buf),
      Stream::Ipc(s) => s.try_read_buf(buf),
    }
  }

  /// The connection's descriptor (for monitor events and socket options).
  pub fn raw_fd(&self) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(match self {
      Stream::Tcp(s) => s.as_raw_fd(),
      Stream::Ipc(s) => s.as_raw_fd(),
    })
  }

  /// Writes what the kernel takes now.
  pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
    match self {
      Stream::Tcp(s) => s.try_write(data),
      Stream::Ipc(s) => s.try_write(data),
    }
  }
}

/// EINPROGRESS on Linux and the BSDs (a non-blocking connect that completes later).
fn in_progress(e: &io::Error) -> bool {
  const EINPROGRESS: i32 = if cfg!(target_os = "linux") { 115 } else { 36 };
  e.raw_os_error() == Some(EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock
}

/// The address a tcp endpoint connects to: IPv4 first, as libzmq without `ZMQ_IPV6`. Host names are looked up
/// here, synchronously, as libzmq's I/O thread does; IP literals cost no lookup.
fn tcp_address(host: &str, port: u16) -> io::Result<std::net::SocketAddr> {
  use std::net::ToSocketAddrs;
  let host = host.trim_start_matches('[').trim_end_matches(']');
  let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
  (addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()))
    .copied()
    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address")))
}

/// A std socket before a reactor takes it.
pub enum StdStream {
  /// tcp
  Tcp(std::net::TcpStream),
  /// ipc
  Unix(std::os::unix::net::UnixStream),
}

/// Starts a non-blocking connect to a tcp or ipc endpoint on a std socket (`TCP_NODELAY` set); the flag says
/// the connect is still in progress. Any reactor can take the socket from here.
///
/// # Errors
/// What the OS says at once (refused, no such file, unresolvable host), or inproc.
pub fn connect_socket(endpoint: &Endpoint) -> io::Result<(StdStream, bool)> {
  use socket2::{Domain, SockAddr, Socket, Type};
  let (domain, addr) = match endpoint {
    Endpoint::Tcp { host, port } => {
      let addr = tcp_address(host, *port)?;
      (Domain::for_address(addr), SockAddr::from(addr))
    }
    Endpoint::Ipc(path) => (Domain::UNIX, SockAddr::unix(path)?),
    Endpoint::Inproc(_) => {
      return Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "inproc is not served by the network driver",
      ))
    }
  };
  let socket = Socket::new(domain, Type::STREAM, None)?;
  socket.set_nonblocking(true)?;
  if domain != Domain::UNIX {
    // Small messages must not wait for Nagle (libzmq sets TCP_NODELAY too).
    socket.set_nodelay(true)?;
  }
  let pending = match socket.connect(&addr) {
    Ok(()) => false,
    Err(e) if domain != Domain::UNIX && in_progress(&e) => true,
    Err(e) => return Err(e),
  };
  let socket = if domain == Domain::UNIX {
    StdStream::Unix(socket.into())
  } else {
    StdStream::Tcp(socket.into())
  };
  Ok((socket, pending))
}

/// Binds an ipc path now, non-blocking, without a runtime: libzmq unlinks a stale socket file first, and a
/// live listener there (a probe connect that succeeds or is in progress) is `AddrInUse`.
///
/// # Errors
/// `AddrInUse`, `Io`.
#[cfg(unix)]
pub fn bind_ipc(
  path: &std::path::Path,
) -> Result<std::os::unix::net::UnixListener, TransportError> {
  use socket2::{Domain, SockAddr, Socket, Type};
  if path.exists() {
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    match probe.connect(&SockAddr::unix(path)?) {
      Ok(()) => {
        return Err(TransportError::AddrInUse(format!(
          "ipc://{}",
          path.display()
        )))
      }
      Err(e) if in_progress(&e) => {
        return Err(TransportError::AddrInUse(format!(
          "ipc://{}",
          path.display()
        )))
      }
      Err(_) => {
        let _ = std::fs::remove_file(path);
      }
    }
  }
  let listener = std::os::unix::net::UnixListener::bind(path).map_err(bind_error)?;
  listener.set_nonblocking(true)?;
  Ok(listener)
}

/// The address a tcp endpoint binds: IPv4 first, as libzmq without `ZMQ_IPV6` (host names looked up here).
///
/// # Errors
/// An unresolvable host.
pub fn bind_address(host: &str, port: u16) -> io::Result<std::net::SocketAddr> {
  tcp_address(host, port)
}

impl Stream {
  /// Starts a non-blocking connect to a tcp or ipc endpoint. Returns the stream and whether the connect is
  /// still in progress (then write readiness followed by [`Stream::take_error`] tells how it ended).
  ///
  /// # Errors
  /// What the OS says at once (refused, no such file, unresolvable host); the caller retries later.
  pub fn connect(endpoint: &Endpoint) -> io::Result<(Stream, bool)> {
    let (socket, pending) = connect_socket(endpoint)?;
    let stream = match socket {
      StdStream::Unix(s) => Stream::Ipc(UnixStream::from_std(s)?),
      StdStream::Tcp(s) => Stream::Tcp(TcpStream::from_std(s)?),
    };
    Ok((stream, pending))
  }

  /// After write readiness on a connect in progress: `Ok` when connected, the error otherwise.
  ///
  /// # Errors
  /// The connect's own error (refused, unreachable, timed out).
  pub fn finish_connect(&self) -> io::Result<()> {
    let error = match self {
      Stream::Tcp(s) => s.take_error()?,
      Stream::Ipc(s) => s.take_error()?,
    };
    if let Some(e) = error {
      return Err(e);
    }
    // Readiness without an error can still be a socket that never connected (ENOTCONN).
    match self {
      Stream::Tcp(s) => s.peer_addr().map(|_| ()),
      Stream::Ipc(_) => Ok(()),
    }
  }
}
