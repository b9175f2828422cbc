//! Kernel options of tcp sockets, as libzmq applies them: `ZMQ_SNDBUF`, `ZMQ_RCVBUF` and the
//! `ZMQ_TCP_KEEPALIVE*` options on every connected and accepted tcp stream, `ZMQ_BACKLOG` on a tcp
//! listener. -1 leaves the OS default, as in libzmq. Applied through the descriptor, so any reactor whose
//! streams expose it ([`super::reactor::IoStream::raw_fd`]) gets them.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};

/// The tcp options of a socket (libzmq's names and meanings; -1: the OS default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTuning {
  /// `ZMQ_SNDBUF` in bytes.
  pub sndbuf: i32,
  /// `ZMQ_RCVBUF` in bytes.
  pub rcvbuf: i32,
  /// `ZMQ_TCP_KEEPALIVE`: 1 on, 0 off.
  pub keepalive: i32,
  /// `ZMQ_TCP_KEEPALIVE_CNT`: probes before the peer is taken as gone.
  pub keepalive_cnt: i32,
  /// `ZMQ_TCP_KEEPALIVE_IDLE`: seconds of silence before the first probe.
  pub keepalive_idle: i32,
  /// `ZMQ_TCP_KEEPALIVE_INTVL`: seconds between probes.
  pub keepalive_intvl: i32,
  /// `ZMQ_BACKLOG`: pending connections a listener holds (-1: the reactor's own default).
  pub backlog: i32,
}

impl Default for TcpTuning {
  /// Nothing changed: the OS defaults, the reactor's listeners.
  fn default() -> Self {
    Self {
      sndbuf: -1,
      rcvbuf: -1,
      keepalive: -1,
      keepalive_cnt: -1,
      keepalive_idle: -1,
      keepalive_intvl: -1,
      backlog: -1,
    }
  }
}

fn secs(v: i32) -> std::time::Duration {
  std::time::Duration::from_secs(u64::try_from(v).unwrap_or(0))
}

impl TcpTuning {
  /// Whether a connected or accepted stream needs anything set.
  pub fn touches_streams(&self) -> bool {
    self.sndbuf >= 0 || self.rcvbuf >= 0 || self.keepalive >= 0
  }

  /// Sets the options on the connected or accepted tcp socket `fd`, as libzmq does on each: the buffer
  /// sizes, then keepalive on or off and, when on, its count, idle time and interval.
  ///
  /// # Errors
  /// What `setsockopt` says (the stream is usable anyway; callers log it).
  pub fn apply(&self, fd: i64) -> io::Result<()> {
    if fd < 0 || !self.touches_streams() {
      return Ok(());
    }
    let raw = std::os::fd::RawFd::try_from(fd).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `fd` is the descriptor of a stream the caller owns and keeps open for this call; the
    // borrow ends before it returns and nothing here closes it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    let sock = SockRef::from(&borrowed);
    if self.sndbuf >= 0 {
      sock.set_send_buffer_size(self.sndbuf as usize)?;
    }
    if self.rcvbuf >= 0 {
      sock.set_recv_buffer_size(self.rcvbuf as usize)?;
    }
    if self.keepalive >= 0 {
      sock.set_keepalive(self.keepalive != 0)?;
    }
    if self.keepalive > 0 {
      let mut ka = TcpKeepalive::new();
      if self.keepalive_idle >= 0 {
        ka = ka.with_time(secs(self.keepalive_idle));
      }
      if self.keepalive_intvl >= 0 {
        ka = ka.with_interval(secs(self.keepalive_intvl));
      }
      if self.keepalive_cnt >= 0 {
        ka = ka.with_retries(u32::try_from(self.keepalive_cnt).unwrap_or(0));
      }
      let any = self.keepalive_idle >= 0 || self.keepalive_intvl >= 0 || self.keepalive_cnt >= 0;
      if any {
        sock.set_tcp_keepalive(&ka)?;
      }
    }
    Ok(())
  }

  /// A tcp listener on `addr` with this backlog (and `SO_REUSEADDR`, as a tokio listener has), non-blocking,
  /// for a reactor to adopt.
  ///
  /// # Errors
  /// What `socket`/`bind`/`listen` say (`AddrInUse`...).
  pub fn listener(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(self.backlog.max(1))?;
    Ok(socket.into())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_options_reach_the_kernel_and_read_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let tuning = TcpTuning {
      sndbuf: 64 * 1024,
      rcvbuf: 48 * 1024,
      keepalive: 1,
      keepalive_cnt: 4,
      keepalive_idle: 30,
      keepalive_intvl: 5,
      backlog: -1,
    };
    use std::os::fd::AsRawFd;
    tuning.apply(i64::from(stream.as_raw_fd())).unwrap();
    let sock = SockRef::from(&stream);
    assert!(sock.keepalive().unwrap());
    assert_eq!(sock.keepalive_time().unwrap(), secs(30));
    assert_eq!(sock.keepalive_interval().unwrap(), secs(5));
    assert_eq!(sock.keepalive_retries().unwrap(), 4);
    // Linux doubles the size asked for (bookkeeping overhead); other systems keep it.
    assert!(sock.send_buffer_size().unwrap() >= 64 * 1024);
    assert!(sock.recv_buffer_size().unwrap() >= 48 * 1024);
  }

  #[test]
  fn keepalive_off_is_set_and_minus_one_leaves_the_os_default() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let sock = SockRef::from(&stream);
    let before = sock.recv_buffer_size().unwrap();
    sock.set_keepalive(true).unwrap();
    let off = TcpTuning {
      keepalive: 0,
      ..TcpTuning::default()
    };
    use std::os::fd::AsRawFd;
    off.apply(i64::from(stream.as_raw_fd())).unwrap();
    assert!(!sock.keepalive().unwrap());
    assert_eq!(sock.recv_buffer_size().unwrap(), before);
  }

  #[test]
  fn a_listener_gets_its_backlog_and_a_real_port() {
    let tuning = TcpTuning {
      backlog: 7,
      ..TcpTuning::default()
    };
    let l = tuning.listener("127.0.0.1:0".parse().unwrap()).unwrap();
    assert_ne!(l.local_addr().unwrap().port(), 0);
    // A second listener on the same port is refused (SO_REUSEADDR does not allow two listeners).
    let again = tuning.listener(l.local_addr().unwrap());
    assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AddrInUse);
  }
}
