//! Who tells a driver that its sockets are ready and its deadline has passed: tokio's reactor on our runtime
//! thread (the broker, the bus forwarder), or libuv's loop on a JS thread (clients, workers, classic sockets,
//! bus nodes). The driver ([`super::Server`]) is written against these traits only, so the same code owns
//! connections on either; only who polls it differs.
//!
//! The contract is tokio's readiness model: `poll_*_ready` registers the context's waker and says whether the
//! socket may make progress; `try_*` does the I/O and, on `WouldBlock`, clears the readiness it consumed.

use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;

use super::net::{Listener, Stream};
use crate::transport::{Endpoint, TransportError};

/// Where a driver's sockets come from and who polls them.
pub trait Reactor: 'static {
  /// A connected stream.
  type Stream: IoStream;
  /// A bound listener accepting [`Reactor::Stream`]s.
  type Listener: IoListener<Stream = Self::Stream>;
  /// The driver's timer.
  type Sleep: IoSleep;
  /// A UDP socket (the bus node's discovery).
  type Datagram: IoDatagram;

  /// A timer not yet armed.
  fn sleep(&self) -> Self::Sleep;

  /// Serves a bound, non-blocking UDP socket.
  ///
  /// # Errors
  /// When it cannot be registered.
  fn datagram(&self, socket: std::net::UdpSocket) -> io::Result<Self::Datagram>;

  /// Starts a non-blocking connect to a tcp or ipc endpoint; the flag says the connect is still in progress.
  ///
  /// # Errors
  /// What the OS says at once (refused, no such file, unresolvable host).
  fn connect(&self, endpoint: &Endpoint) -> io::Result<(Self::Stream, bool)>;

  /// Binds a tcp or ipc endpoint; returns the listener and the endpoint resolved (the real port).
  ///
  /// # Errors
  /// `Endpoint`, `AddrInUse`, `Io`.
  fn bind(
    &self,
    endpoint: &Endpoint,
  ) -> impl std::future::Future<Output = Result<(Self::Listener, String), TransportError>>;

  /// Serves a tcp listener its owner bound already (so its port was known early).
  ///
  /// # Errors
  /// When it cannot be registered.
  fn adopt_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener>;

  /// Serves an ipc listener bound already at `path` (removed when the listener drops).
  ///
  /// # Errors
  /// When it cannot be registered.
  #[cfg(unix)]
  fn adopt_ipc_listener(
    &self,
    listener: std::os::unix::net::UnixListener,
    path: std::path::PathBuf,
  ) -> io::Result<Self::Listener>;
}

/// tokio's reactor on the runtime thread (the broker, the bus forwarder and data path, today's clients).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Reactor for Tokio {
  type Stream = Stream;
  type Listener = Listener;
  type Sleep = TokioSleep;
  type Datagram = tokio::net::UdpSocket;

  fn sleep(&self) -> TokioSleep {
    TokioSleep::new()
  }

  fn datagram(&self, socket: std::net::UdpSocket) -> io::Result<tokio::net::UdpSocket> {
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
  }

  fn connect(&self, endpoint: &Endpoint) -> io::Result<(Stream, bool)> {
    Stream::connect(endpoint)
  }

  fn bind(
    &self,
    endpoint: &Endpoint,
  ) -> impl std::future::Future<Output = Result<(Listener, String), TransportError>> {
    let endpoint = endpoint.clone();
    async move { Listener::bind(&endpoint).await }
  }

  fn adopt_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Listener> {
    listener.set_nonblocking(true)?;
    Ok(Listener::Tcp(tokio::net::TcpListener::from_std(listener)?))
  }

  #[cfg(unix)]
  fn adopt_ipc_listener(
    &self,
    listener: std::os::unix::net::UnixListener,
    path: std::path::PathBuf,
  ) -> io::Result<Listener> {
    listener.set_nonblocking(true)?;
    Ok(Listener::Ipc(
      tokio::net::UnixListener::from_std(listener)?,
      path,
    ))
  }
}

/// A connected, non-blocking stream.
pub trait IoStream {
  /// Registers `cx` for read readiness; `Ready` when a read may make progress.
  fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
  /// Registers `cx` for write readiness; `Ready` when a write may make progress.
  fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
  /// Reads into the spare capacity of `buf` (never zero-filled); `Ok(0)` is end of stream.
  fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize>;
  /// Writes what the kernel takes now.
  fn try_write(&self, data: &[u8]) -> io::Result<usize>;
  /// After write readiness on a connect in progress: `Ok` when connected, the connect's error otherwise.
  fn finish_connect(&self) -> io::Result<()>;
  /// The peer's address, for logs.
  fn peer(&self) -> String;
  /// The OS descriptor, for monitor events and socket options; -1 where the reactor does not expose it.
  fn raw_fd(&self) -> i64 {
    -1
  }
}

/// A bound, non-blocking listener.
pub trait IoListener {
  /// What it accepts.
  type Stream: IoStream;
  /// Polls for one accepted connection.
  fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Stream>>;
  /// The OS descriptor, for monitor events; -1 where the reactor does not expose it.
  fn raw_fd(&self) -> i64 {
    -1
  }
}

/// A bound, non-blocking UDP socket.
pub trait IoDatagram {
  /// Receives one datagram into `buf` (truncated to its length), registering `cx` when none is there.
  fn poll_recv_from(
    &self,
    cx: &mut Context<'_>,
    buf: &mut [u8],
  ) -> Poll<io::Result<(usize, std::net::SocketAddr)>>;
  /// Sends one datagram to `dest`, registering `cx` while the kernel takes none.
  fn poll_send_to(
    &self,
    cx: &mut Context<'_>,
    data: &[u8],
    dest: std::net::SocketAddr,
  ) -> Poll<io::Result<usize>>;
}

impl IoDatagram for tokio::net::UdpSocket {
  fn poll_recv_from(
    &self,
    cx: &mut Context<'_>,
    buf: &mut [u8],
  ) -> Poll<io::Result<(usize, std::net::SocketAddr)>> {
    let mut read = tokio::io::ReadBuf::new(buf);
    match tokio::net::UdpSocket::poll_recv_from(self, cx, &mut read) {
      Poll::Ready(Ok(from)) => Poll::Ready(Ok((read.filled().len(), from))),
      Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
      Poll::Pending => Poll::Pending,
    }
  }

  fn poll_send_to(
    &self,
    cx: &mut Context<'_>,
    data: &[u8],
    dest: std::net::SocketAddr,
  ) -> Poll<io::Result<usize>> {
    tokio::net::UdpSocket::poll_send_to(self, cx, data, dest)
  }
}

/// A one-shot timer a driver re-arms at its next deadline.
pub trait IoSleep {
  /// Fires at `at` (re-arming an armed timer).
  fn reset(&mut self, at: Instant);
  /// `Ready` once the deadline has passed; registers `cx` otherwise.
  fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

impl IoStream for Stream {
  fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    Stream::poll_read_ready(self, cx)
  }

  fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    Stream::poll_write_ready(self, cx)
  }

  fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
    Stream::try_read_buf(self, buf)
  }

  fn try_write(&self, data: &[u8]) -> io::Result<usize> {
    Stream::try_write(self, data)
  }

  fn finish_connect(&self) -> io::Result<()> {
    Stream::finish_connect(self)
  }

  fn peer(&self) -> String {
    Stream::peer(self)
  }

  fn raw_fd(&self) -> i64 {
    Stream::raw_fd(self)
  }
}

impl IoListener for Listener {
  type Stream = Stream;

  fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Stream>> {
    Listener::poll_accept(self, cx)
  }

  fn raw_fd(&self) -> i64 {
    Listener::raw_fd(self)
  }
}

/// tokio's sleep as a driver timer.
pub struct TokioSleep(std::pin::Pin<Box<tokio::time::Sleep>>);

impl TokioSleep {
  /// A timer that has not been armed (it fires at once if polled before [`IoSleep::reset`]).
  pub fn new() -> Self {
    Self(Box::pin(tokio::time::sleep(std::time::Duration::ZERO)))
  }
}

impl Default for TokioSleep {
  fn default() -> Self {
    Self::new()
  }
}

impl IoSleep for TokioSleep {
  fn reset(&mut self, at: Instant) {
    self.0.as_mut().reset(tokio::time::Instant::from_std(at));
  }

  fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    std::future::Future::poll(self.0.as_mut(), cx)
  }
}
