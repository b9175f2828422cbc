//! One Redis connection driven by whoever polls it (the lane's task on a JS thread's libuv loop):
//! a non-blocking connect through a [`Reactor`], commands packed by the `redis` crate's `Cmd`,
//! replies parsed by its incremental decoder, and the handshake (AUTH, SELECT) pipelined ahead
//! of the first command. Writes queued during one poll leave in one `write`.

use super::LaneError;
use crate::busmq::keys::RedisTarget;
use crate::driver::reactor::{IoStream, Reactor};
use crate::transport::Endpoint;
use bytes::BytesMut;
use redis::{Cmd, Value};
use std::io;
use std::task::{Context, Poll};
use tokio_util::codec::Decoder;

/// A Redis connection: bytes to write, bytes read, and the replies the handshake owes.
pub struct RespConn<S> {
  stream: S,
  connecting: bool,
  out: Vec<u8>,
  sent: usize,
  inbuf: BytesMut,
  /// The `redis` crate's incremental RESP decoder (it keeps partial state between reads).
  codec: redis::ValueCodec,
  /// Handshake replies still to come (checked, not handed out).
  handshake: usize,
}

impl<S: IoStream> RespConn<S> {
  /// Starts connecting to `target` (plain TCP), with AUTH and SELECT queued when it needs them.
  ///
  /// # Errors
  /// What the OS says at once (refused, unresolvable host).
  pub fn connect<R: Reactor<Stream = S>>(reactor: &R, target: &RedisTarget) -> io::Result<Self> {
    let endpoint = Endpoint::Tcp {
      host: target.host.clone(),
      port: target.port,
    };
    let (stream, connecting) = reactor.connect(&endpoint)?;
    let mut conn = Self {
      stream,
      connecting,
      out: Vec::with_capacity(256),
      sent: 0,
      inbuf: BytesMut::with_capacity(4096),
      codec: redis::ValueCodec::default(),
      handshake: 0,
    };
    if let Some(pass) = &target.password {
      let mut auth = redis::cmd("AUTH");
      if let Some(user) = &target.username {
        auth.arg(user);
      }
      auth.arg(pass);
      conn.queue(&auth);
      conn.handshake += 1;
    }
    if target.db != 0 {
      conn.queue(redis::cmd("SELECT").arg(target.db));
      conn.handshake += 1;
    }
    Ok(conn)
  }

  /// Appends `cmd` to what the next [`RespConn::flush`] writes.
  pub fn queue(&mut self, cmd: &Cmd) {
    cmd.write_packed_command(&mut self.out);
  }

  /// True once the connect finished.
  pub fn connected(&self) -> bool {
    !self.connecting
  }

  /// Writes what is queued, as far as the socket takes it now; the rest waits for writability
  /// (registered with `cx`).
  ///
  /// # Errors
  /// The connect failed or the connection broke.
  pub fn flush(&mut self, cx: &mut Context<'_>) -> Result<(), LaneError> {
    if self.connecting {
      match self.stream.poll_write_ready(cx) {
        Poll::Pending => return Ok(()),
        Poll::Ready(r) => r?,
      }
      self.stream.finish_connect()?;
      self.connecting = false;
    }
    while self.sent < self.out.len() {
      match self.stream.try_write(&self.out[self.sent..]) {
        Ok(0) => return Err(LaneError::Closed),
        Ok(n) => self.sent += n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.stream.poll_write_ready(cx) {
          Poll::Ready(r) => r?,
          Poll::Pending => return Ok(()),
        },
        Err(e) => return Err(e.into()),
      }
    }
    self.out.clear();
    self.sent = 0;
    Ok(())
  }

  /// The next reply, in command order (`Ready(Ok)` also for an error reply, as
  /// `Value::ServerError`).
  ///
  /// # Errors
  /// The connection broke or closed, Redis refused the handshake, or sent bytes that are not RESP.
  pub fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Result<Value, LaneError>> {
    loop {
      match self.codec.decode(&mut self.inbuf) {
        Ok(Some(value)) if self.handshake > 0 => {
          self.handshake -= 1;
          if let Value::ServerError(e) = value {
            return Poll::Ready(Err(LaneError::Handshake(
              redis::RedisError::from(e).to_string(),
            )));
          }
          continue;
        }
        Ok(Some(value)) => return Poll::Ready(Ok(value)),
        Ok(None) => {}
        Err(e) => return Poll::Ready(Err(LaneError::Protocol(e.to_string()))),
      }
      if self.connecting {
        // Nothing to read before the connect finishes; `flush` waits for it.
        return Poll::Pending;
      }
      match self.stream.try_read_buf(&mut self.inbuf) {
        Ok(0) => return Poll::Ready(Err(LaneError::Closed)),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.stream.poll_read_ready(cx) {
          Poll::Ready(Ok(())) => {}
          Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
          Poll::Pending => return Poll::Pending,
        },
        Err(e) => return Poll::Ready(Err(e.into())),
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::driver::reactor::Tokio;
  use std::io::{Read, Write};
  use std::net::TcpListener;

  fn target(port: u16, password: Option<&str>, db: i64) -> RedisTarget {
    RedisTarget {
      host: "127.0.0.1".into(),
      port,
      password: password.map(str::to_string),
      username: None,
      db,
      tls: None,
    }
  }

  /// A server that reads `expect` bytes, then writes each of `replies` separately (a reply split
  /// over several reads).
  fn serve(
    expect: &'static [u8],
    replies: Vec<&'static [u8]>,
  ) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
      let (mut s, _) = listener.accept().expect("accept");
      let mut got = vec![0; expect.len()];
      s.read_exact(&mut got).expect("read");
      assert_eq!(got, expect);
      for r in replies {
        s.write_all(r).expect("write");
        s.flush().expect("flush");
        std::thread::sleep(std::time::Duration::from_millis(5));
      }
    });
    (port, server)
  }

  async fn next(conn: &mut RespConn<crate::driver::net::Stream>) -> Result<Value, LaneError> {
    std::future::poll_fn(|cx| {
      conn.flush(cx)?;
      conn.poll_reply(cx)
    })
    .await
  }

  #[tokio::test]
  async fn the_handshake_is_pipelined_and_skipped_and_a_split_reply_is_read_whole() {
    let (port, server) = serve(
      b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n",
      vec![b"+OK\r\n+O", b"K\r\n:42\r\n*2\r\n$5\r\nbus:q\r\n*2\r\n$1\r\n7", b"\r\n$2\r\nhi\r\n"],
    );
    let mut conn = RespConn::connect(&Tokio, &target(port, Some("pw"), 3)).expect("connect");
    conn.queue(redis::cmd("CLIENT").arg("ID"));
    assert_eq!(next(&mut conn).await.expect("id"), Value::Int(42));
    let popped = next(&mut conn).await.expect("array");
    let messages = crate::busmq::ops::blmpop_messages(popped);
    assert_eq!(messages, vec![(7, bytes::Bytes::from_static(b"hi"))]);
    assert!(matches!(next(&mut conn).await, Err(LaneError::Closed)));
    server.join().expect("server");
  }

  #[tokio::test]
  async fn a_refused_auth_is_a_handshake_error_with_code_eauth() {
    let (port, server) = serve(
      b"*2\r\n$4\r\nAUTH\r\n$3\r\nbad\r\n*1\r\n$4\r\nPING\r\n",
      vec![b"-WRONGPASS invalid password\r\n-NOAUTH Authentication required.\r\n"],
    );
    let mut conn = RespConn::connect(&Tokio, &target(port, Some("bad"), 0)).expect("connect");
    conn.queue(&redis::cmd("PING"));
    let err = next(&mut conn).await.expect_err("refused");
    assert!(matches!(err, LaneError::Handshake(_)), "{err:?}");
    assert_eq!(err.failure().code, "EAUTH");
    server.join().expect("server");
  }
}
