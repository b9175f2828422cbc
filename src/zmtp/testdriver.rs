//! A minimal tokio driver for tests over real sockets: reads into the session's spare capacity, writes its
//! output, fires its timers. Bounded in turns and time. Not the product's driver (floor 3 will be).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::ZmtpError;
use super::session::{Event, Session};

/// Why a drive ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum End {
  /// The wanted number of events arrived.
  Events,
  /// The time limit passed.
  Deadline,
  /// The peer closed the connection.
  Eof,
  /// Our session refused the peer.
  Error(ZmtpError),
}

/// Drives `s` over `stream` until `want` events, EOF, an error, or `limit` has passed.
pub(super) async fn drive(
  stream: &mut TcpStream,
  s: &mut Session,
  want: usize,
  limit: Duration,
) -> (Vec<Event>, End) {
  let deadline = Instant::now() + limit;
  let mut events = Vec::new();
  for _ in 0..10_000 {
    if s.has_output() && stream.write_all(&s.take_output()).await.is_err() {
      return (events, End::Eof);
    }
    events.extend(std::iter::from_fn(|| s.poll_event()));
    if events.len() >= want {
      return (events, End::Events);
    }
    let now = Instant::now();
    if now >= deadline {
      return (events, End::Deadline);
    }
    let wake = s.next_timeout().map_or(deadline, |t| t.min(deadline));
    let hint = s.read_hint();
    s.read_buf().reserve(hint);
    tokio::select! {
      read = stream.read_buf(s.read_buf()) => match read {
        Ok(0) | Err(_) => return (events, End::Eof),
        Ok(_) => {
          if let Err(err) = s.process(Instant::now()) {
            let _ = stream.write_all(&s.take_output()).await;
            return (events, End::Error(err));
          }
        }
      },
      () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
        if let Err(err) = s.handle_timeout(Instant::now()) {
          return (events, End::Error(err));
        }
      }
    }
  }
  (events, End::Deadline)
}
