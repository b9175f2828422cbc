//! A minimal ZMTP 3.0 publisher (NULL mechanism) for the node's publish side
//! of the data path: one TCP connection to the elected forwarder's SUB.
//!
//! zmq.rs's XPUB flushes the socket once per message (a syscall each), which
//! caps publishing far below what the bus needs. Owning the connection lets
//! the node encode a whole batch of messages into one buffer and write it at
//! once, see the forwarder's subscriptions (so publishes wait until they get
//! through), and notice at once when the forwarder's end closes.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest incoming frame accepted (subscriptions and commands are small).
const MAX_INCOMING_FRAME: u64 = 1 << 20;

/// Why the publisher connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ZmtpError {
  /// TCP or I/O failure.
  #[error("{0}")]
  Io(#[from] std::io::Error),
  /// The peer does not speak ZMTP 3 with the NULL mechanism as a SUB.
  #[error("ZMTP handshake failed: {0}")]
  Handshake(&'static str),
  /// The connection did not complete in time.
  #[error("timed out")]
  Timeout,
}

/// What the forwarder's SUB told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
  /// A subscription to messages whose frame 0 starts with this prefix.
  Subscribe(Vec<u8>),
  /// A subscription was withdrawn.
  Cancel(Vec<u8>),
  /// The connection closed or broke.
  Closed,
}

/// Our 64-byte greeting: ZMTP 3.0, NULL, client side. 3.0 (not 3.1) makes
/// libzmq send subscriptions as messages, the form every peer understands.
pub fn greeting() -> [u8; 64] {
  let mut g = [0u8; 64];
  g[0] = 0xff;
  g[8] = 1; // padding read as a length by ZMTP 1.0 peers
  g[9] = 0x7f;
  g[10] = 3;
  g[12..16].copy_from_slice(b"NULL");
  g
}

/// The READY command announcing a PUB socket.
pub fn ready_command() -> Vec<u8> {
  let mut body = Vec::with_capacity(32);
  body.put_u8(5);
  body.put_slice(b"READY");
  body.put_u8(11);
  body.put_slice(b"Socket-Type");
  body.put_u32(3);
  body.put_slice(b"PUB");
  let mut out = Vec::with_capacity(body.len() + 2);
  out.put_u8(0x04);
  out.put_u8(body.len() as u8); // 25 bytes: a short command frame
  out.extend_from_slice(&body);
  out
}

/// Checks a peer greeting: ZMTP 3.x with the NULL mechanism.
///
/// # Errors
/// [`ZmtpError::Handshake`] naming what is wrong.
pub fn check_greeting(g: &[u8; 64]) -> Result<(), ZmtpError> {
  if g[0] != 0xff || g[9] != 0x7f {
    return Err(ZmtpError::Handshake("not a ZMTP peer"));
  }
  if g[10] < 3 {
    return Err(ZmtpError::Handshake("ZMTP version below 3"));
  }
  if &g[12..16] != b"NULL" || g[16] != 0 {
    return Err(ZmtpError::Handshake("security mechanism is not NULL"));
  }
  Ok(())
}

/// Appends one message: every frame but the last has the MORE flag.
pub fn encode_message(frames: &[Bytes], out: &mut BytesMut) {
  let last = frames.len().saturating_sub(1);
  for (i, frame) in frames.iter().enumerate() {
    let more = u8::from(i < last);
    if frame.len() > 255 {
      out.put_u8(more | 0x02);
      out.put_u64(frame.len() as u64);
    } else {
      out.put_u8(more);
      out.put_u8(frame.len() as u8);
    }
    out.put_slice(frame);
  }
}

/// What one incoming frame means to a publisher (ZMTP 3.0 subscription
/// messages and ZMTP 3.1 SUBSCRIBE/CANCEL commands alike).
pub fn parse_incoming(command: bool, body: &[u8]) -> Option<Incoming> {
  if command {
    let (&len, rest) = body.split_first()?;
    let (name, data) = rest.split_at_checked(usize::from(len))?;
    return match name {
      b"SUBSCRIBE" => Some(Incoming::Subscribe(data.to_vec())),
      b"CANCEL" => Some(Incoming::Cancel(data.to_vec())),
      _ => None, // READY, PING and others need no action from a publisher
    };
  }
  match body.split_first() {
    Some((1, prefix)) => Some(Incoming::Subscribe(prefix.to_vec())),
    Some((0, prefix)) => Some(Incoming::Cancel(prefix.to_vec())),
    _ => None,
  }
}

/// Reads one frame: `(is_command, more, body)`.
async fn read_frame(r: &mut OwnedReadHalf) -> Result<(bool, bool, Vec<u8>), ZmtpError> {
  let flags = r.read_u8().await?;
  let len = if flags & 0x02 != 0 {
    r.read_u64().await?
  } else {
    u64::from(r.read_u8().await?)
  };
  if len > MAX_INCOMING_FRAME {
    return Err(ZmtpError::Handshake("incoming frame too large"));
  }
  // Bounded by MAX_INCOMING_FRAME just above, so it fits in usize.
  let mut body = vec![0u8; len as usize];
  r.read_exact(&mut body).await?;
  Ok((flags & 0x04 != 0, flags & 0x01 != 0, body))
}

/// Reads the peer's READY and checks it is a (X)SUB.
async fn read_ready(r: &mut OwnedReadHalf) -> Result<(), ZmtpError> {
  let (command, _, body) = read_frame(r).await?;
  let mut b = body.as_slice();
  if !command || b.first() != Some(&5) || b.get(1..6) != Some(b"READY") {
    return Err(ZmtpError::Handshake("no READY command"));
  }
  b.advance(6);
  while b.len() >= 5 {
    let name_len = usize::from(b.get_u8());
    let Some((name, rest)) = b.split_at_checked(name_len) else {
      break;
    };
    b = rest;
    if b.len() < 4 {
      break;
    }
    let value_len = b.get_u32() as usize;
    let Some((value, rest)) = b.split_at_checked(value_len) else {
      break;
    };
    b = rest;
    if name.eq_ignore_ascii_case(b"Socket-Type") {
      return match value {
        b"SUB" | b"XSUB" => Ok(()),
        _ => Err(ZmtpError::Handshake("peer is not a SUB socket")),
      };
    }
  }
  Err(ZmtpError::Handshake("READY without Socket-Type"))
}

/// A connected publisher: the write half, and a reader task reporting the
/// peer's subscriptions (and the end of the connection) on a channel.
pub struct Publisher {
  writer: OwnedWriteHalf,
  incoming: mpsc::UnboundedReceiver<Incoming>,
  reader: JoinHandle<()>,
}

impl Publisher {
  /// Connects to `addr` (`host:port`) and completes the handshake in `timeout`.
  ///
  /// # Errors
  /// [`ZmtpError`] for connection, handshake and timeout failures.
  pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, ZmtpError> {
    let setup = async {
      let stream = TcpStream::connect(addr).await?;
      stream.set_nodelay(true)?;
      let (mut r, mut w) = stream.into_split();
      let mut hello = greeting().to_vec();
      hello.extend_from_slice(&ready_command());
      w.write_all(&hello).await?;
      let mut peer = [0u8; 64];
      r.read_exact(&mut peer).await?;
      check_greeting(&peer)?;
      read_ready(&mut r).await?;
      Ok::<_, ZmtpError>((r, w))
    };
    let (r, writer) = tokio::time::timeout(timeout, setup)
      .await
      .map_err(|_| ZmtpError::Timeout)??;
    let (tx, incoming) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_loop(r, tx));
    Ok(Self {
      writer,
      incoming,
      reader,
    })
  }

  /// The next thing the peer said. Cancel-safe (a channel read).
  pub async fn next_incoming(&mut self) -> Incoming {
    self.incoming.recv().await.unwrap_or(Incoming::Closed)
  }

  /// Writes encoded messages.
  ///
  /// # Errors
  /// The socket's error (the connection is then unusable).
  pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
    self.writer.write_all(bytes).await
  }
}

impl Drop for Publisher {
  fn drop(&mut self) {
    self.reader.abort();
  }
}

async fn read_loop(mut r: OwnedReadHalf, tx: mpsc::UnboundedSender<Incoming>) {
  loop {
    match read_frame(&mut r).await {
      Ok((command, _, body)) => {
        if let Some(ev) = parse_incoming(command, &body) {
          if tx.send(ev).is_err() {
            return;
          }
        }
      }
      Err(_) => {
        let _ = tx.send(Incoming::Closed);
        return;
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn greeting_is_zmtp_3_0_null_client() {
    let g = greeting();
    assert_eq!(
      &g[..16],
      b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL"
    );
    assert!(check_greeting(&g).is_ok());
    assert_eq!(g[32], 0, "as-server is false");
  }

  #[test]
  fn ready_command_announces_a_pub_socket() {
    let mut want = vec![0x04, 25, 5];
    want.extend_from_slice(b"READY\x0bSocket-Type\x00\x00\x00\x03PUB");
    assert_eq!(ready_command(), want);
  }

  #[test]
  fn messages_encode_with_more_flags_and_long_sizes() {
    let mut out = BytesMut::new();
    let long = Bytes::from(vec![7u8; 300]);
    encode_message(&[Bytes::from_static(b"eq"), Bytes::new(), long], &mut out);
    assert_eq!(&out[..6], b"\x01\x02eq\x01\x00");
    assert_eq!(&out[6..15], &[0x02, 0, 0, 0, 0, 0, 0, 1, 44]);
    assert_eq!(out.len(), 15 + 300);
  }

  #[test]
  fn subscriptions_parse_from_messages_and_3_1_commands() {
    assert_eq!(
      parse_incoming(false, b"\x01eq"),
      Some(Incoming::Subscribe(b"eq".to_vec()))
    );
    assert_eq!(
      parse_incoming(false, b"\x01"),
      Some(Incoming::Subscribe(vec![]))
    );
    assert_eq!(
      parse_incoming(false, b"\x00eq"),
      Some(Incoming::Cancel(b"eq".to_vec()))
    );
    assert_eq!(
      parse_incoming(true, b"\x09SUBSCRIBEeq"),
      Some(Incoming::Subscribe(b"eq".to_vec()))
    );
    assert_eq!(
      parse_incoming(true, b"\x06CANCEL"),
      Some(Incoming::Cancel(vec![]))
    );
    assert_eq!(parse_incoming(true, b"\x04PING\x00\x00"), None);
    assert_eq!(
      parse_incoming(true, b"\x09SUB"),
      None,
      "truncated name is ignored"
    );
    assert_eq!(parse_incoming(false, b""), None);
  }

  #[test]
  fn greetings_of_other_mechanisms_or_versions_are_refused() {
    let mut g = greeting();
    g[12..16].copy_from_slice(b"PLAI");
    assert!(check_greeting(&g).is_err());
    let mut g = greeting();
    g[10] = 2;
    assert!(check_greeting(&g).is_err());
  }
}
