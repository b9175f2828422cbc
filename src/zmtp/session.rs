//! One ZMTP connection as a sans-IO state machine: greeting -> mechanism handshake -> traffic.
//!
//! The driver owns the socket and the clock. It appends what it reads ([`Session::read_buf`] +
//! [`Session::process`], or [`Session::handle_input`]), writes [`Session::take_output`], pops
//! [`Session::poll_event`], and calls [`Session::handle_timeout`] at [`Session::next_timeout`]. An `Err` from
//! any call ends the session: the driver writes the remaining output (an ERROR command, when the mechanism
//! sends one) and closes that one connection, counting [`ZmtpError::reason`].
//!
//! Limits held from the first byte: frame size (smaller during the handshake), frames per message, bytes
//! buffered per peer, and the handshake timeout. Heartbeats follow libzmq: a PING every IVL after the
//! handshake, a TIMEOUT armed by each PING and disarmed by any received frame, and the peer's TTL.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::command::{Command, Properties, Subscription};
use super::error::{Result, ZmtpError};
use super::frame::{self, Frame, FrameDecoder};
use super::greeting::{self, Version, GREETING_LEN};
use super::mechanism::Mechanism;
use super::raw::{RawMessage, ScanState};
use super::timers::Timers;

pub use super::config::{socket_types_match, Heartbeat, Limits, SessionConfig};

/// Bytes of bookkeeping counted per buffered frame, so that many empty frames cost what they really cost.
const FRAME_OVERHEAD: usize = 32;
/// The most frame slots reserved ahead for the next message (a longer one grows as it arrives).
const PARTIAL_RESERVE_MAX: usize = 16;
/// Largest read the session asks for at once.
const READ_CHUNK: usize = 64 * 1024;

/// Who the peer is, once the handshake is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
  /// Its `Socket-Type`.
  pub socket_type: String,
  /// Its `Identity` (empty if none).
  pub identity: Bytes,
  /// All its properties.
  pub properties: Properties,
  /// The user id our authenticator gave it.
  pub user_id: Option<Bytes>,
  /// Which wire forms it gets.
  pub version: Version,
}

/// What the session tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
  /// The handshake is done; messages may flow.
  Ready(PeerInfo),
  /// A complete message.
  Message(Vec<Bytes>),
  /// A SUBSCRIBE or CANCEL command (3.1 form; the 3.0 form arrives as a [`Event::Message`]).
  Subscription(Subscription),
  /// A complete message as its wire bytes, instead of [`Event::Message`], when the config asks for
  /// [`SessionConfig::raw_messages`] and frames travel in plaintext (see `session_raw.rs`).
  Raw(RawMessage),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
  Greeting,
  Handshake,
  Traffic,
  Closed,
}

/// One connection's protocol state.
pub struct Session {
  config: SessionConfig,
  stage: Stage,
  mechanism: Box<dyn Mechanism>,
  version: Version,
  rbuf: BytesMut,
  out: BytesMut,
  events: VecDeque<Event>,
  partial: Vec<Bytes>,
  partial_bytes: usize,
  /// How far the message at the front of `rbuf` has been scanned (raw messages only).
  scan: ScanState,
  timers: Timers,
}

impl Session {
  /// A new connection at `now`; our greeting is queued for writing at once.
  pub fn new(config: SessionConfig, now: Instant) -> Self {
    let local = Properties::for_socket(&config.socket_type, &config.identity);
    let mechanism = config.mechanism.build(local);
    let mut out = BytesMut::with_capacity(256);
    // All 64 bytes at once: more than the 11 a libzmq peer waits for before sending the rest of its own.
    out.extend_from_slice(&greeting::encode(mechanism.name(), mechanism.as_server()));
    let timers = Timers::new(
      now,
      config.limits.handshake_timeout,
      config.heartbeat.clone(),
    );
    Self {
      config,
      stage: Stage::Greeting,
      mechanism,
      version: Version::V31,
      rbuf: BytesMut::new(),
      out,
      events: VecDeque::new(),
      partial: Vec::new(),
      partial_bytes: 0,
      scan: ScanState::default(),
      timers,
    }
  }

  /// The read buffer: a driver may read straight into its spare capacity, then call [`Session::process`].
  pub fn read_buf(&mut self) -> &mut BytesMut {
    &mut self.rbuf
  }

  /// How many bytes to read next: the rest of the greeting byte by byte count, then between 4 KiB and 64 KiB
  /// (what the current frame still needs, within those bounds), so a driver never allocates from an
  /// announced size.
  pub fn read_hint(&self) -> usize {
    match self.stage {
      Stage::Greeting => GREETING_LEN.saturating_sub(self.rbuf.len()).max(1),
      _ => match self.decoder().missing(&self.rbuf, READ_CHUNK) {
        Ok(Some(n)) if n > 0 => n.clamp(4096, READ_CHUNK),
        _ => READ_CHUNK,
      },
    }
  }

  /// Appends `data` and processes it.
  ///
  /// # Errors
  /// Any [`ZmtpError`]; the session is closed afterwards.
  pub fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<()> {
    if self.stage == Stage::Closed {
      return Err(ZmtpError::Closed);
    }
    self.rbuf.extend_from_slice(data);
    self.process(now)
  }

  /// Processes whatever is in the read buffer.
  ///
  /// # Errors
  /// Any [`ZmtpError`]; the session is closed afterwards.
  pub fn process(&mut self, now: Instant) -> Result<()> {
    let result = self.process_inner(now);
    self.close_on_error(result)
  }

  fn process_inner(&mut self, now: Instant) -> Result<()> {
    if self.stage == Stage::Greeting && !self.process_greeting()? {
      return self.check_buffered();
    }
    loop {
      match self.stage {
        Stage::Handshake | Stage::Traffic => {}
        Stage::Greeting => return Ok(()),
        Stage::Closed => return Err(ZmtpError::Closed),
      }
      if self.takes_raw() {
        match self.process_raw()? {
          raw_input::Step::Taken => continue,
          raw_input::Step::Wait => return self.check_buffered(),
          raw_input::Step::Decode => {}
        }
      }
      let Some(wire) = self.decoder().decode_mut(&mut self.rbuf)? else {
        return self.check_buffered();
      };
      self.timers.frame_received();
      if self.stage == Stage::Handshake {
        self.process_handshake_frame(wire.freeze(), now)?;
      } else {
        // Opened where it lies in the read buffer (CURVE): no copy, no allocation.
        let frame = self.mechanism.decode_mut(wire)?;
        let max = self.config.limits.max_msg_size;
        if frame.body.len() as u64 > max {
          return Err(ZmtpError::FrameTooLarge {
            size: frame.body.len() as u64,
            max,
          });
        }
        self.process_traffic_frame(frame, now)?;
      }
    }
  }

  fn decoder(&self) -> FrameDecoder {
    let limits = &self.config.limits;
    match self.stage {
      Stage::Traffic => FrameDecoder::new(
        limits
          .max_msg_size
          .saturating_add(self.mechanism.overhead()),
      ),
      _ => FrameDecoder::new(limits.max_handshake_frame),
    }
  }

  /// Parses the peer's greeting; true once it is whole and accepted.
  fn process_greeting(&mut self) -> Result<bool> {
    let end = self.rbuf.len().min(GREETING_LEN);
    let Some(peer) = greeting::parse(&self.rbuf[..end])? else {
      return Ok(false);
    };
    let ours = self.mechanism.name();
    if peer.mechanism != ours {
      return Err(ZmtpError::MechanismMismatch {
        ours: ours.as_str(),
        peer: peer.mechanism.as_str(),
      });
    }
    let _ = self.rbuf.split_to(GREETING_LEN);
    self.version = peer.version();
    self.stage = Stage::Handshake;
    self.flush_handshake()?;
    Ok(true)
  }

  fn flush_handshake(&mut self) -> Result<()> {
    while let Some(body) = self.mechanism.next_handshake_command()? {
      frame::encode(&mut self.out, &Frame::command(body.freeze()));
    }
    Ok(())
  }

  fn process_handshake_frame(&mut self, wire: Frame, now: Instant) -> Result<()> {
    if !wire.command {
      return Err(ZmtpError::UnexpectedMessage);
    }
    if let Err(err) = self.mechanism.process_handshake_command(&wire.body) {
      // The mechanism may have queued an ERROR for the peer; it goes out before the close.
      let _ = self.flush_handshake();
      return Err(err);
    }
    self.flush_handshake()?;
    if self.mechanism.is_ready() {
      let peer = self.peer_info()?;
      self.stage = Stage::Traffic;
      self
        .timers
        .handshake_done(now, self.version == Version::V31);
      self.events.push_back(Event::Ready(peer));
    }
    Ok(())
  }

  fn peer_info(&self) -> Result<PeerInfo> {
    let properties = self
      .mechanism
      .peer_properties()
      .cloned()
      .unwrap_or_default();
    let socket_type = properties.socket_type().unwrap_or("").to_string();
    if !socket_types_match(&self.config.socket_type, &socket_type) {
      let ours = self.config.socket_type.clone();
      return Err(ZmtpError::IncompatibleSocketType {
        ours,
        peer: socket_type,
      });
    }
    Ok(PeerInfo {
      socket_type,
      identity: properties.identity(),
      user_id: self.mechanism.user_id().cloned(),
      properties,
      version: self.version,
    })
  }

  fn process_traffic_frame(&mut self, frame: Frame, now: Instant) -> Result<()> {
    if frame.command {
      return self.process_command(&frame.body, now);
    }
    let limits = &self.config.limits;
    if self.partial.len() >= limits.max_frames {
      return Err(ZmtpError::TooManyFrames {
        max: limits.max_frames,
      });
    }
    self.partial_bytes += frame.body.len() + FRAME_OVERHEAD;
    self.partial.push(frame.body);
    // Checked per frame too: one read may hold a whole oversized message of small frames.
    self.check_buffered()?;
    if !frame.more {
      self.partial_bytes = 0;
      // The next message likely has this one's shape: one allocation for it, with room for the
      // routing id a ROUTER puts in front.
      let shape = (self.partial.len() + 1).min(PARTIAL_RESERVE_MAX);
      let message = std::mem::replace(&mut self.partial, Vec::with_capacity(shape));
      self.events.push_back(Event::Message(message));
    }
    Ok(())
  }

  fn process_command(&mut self, body: &[u8], now: Instant) -> Result<()> {
    match Command::parse(body)? {
      Command::Ping { ttl, context } => {
        self.timers.ping_received(now, ttl);
        self.send_frame(Frame::command(Command::Pong(context).encode().freeze()))
      }
      Command::Subscribe(t) => {
        self
          .events
          .push_back(Event::Subscription(Subscription::Subscribe(t)));
        Ok(())
      }
      Command::Cancel(t) => {
        self
          .events
          .push_back(Event::Subscription(Subscription::Cancel(t)));
        Ok(())
      }
      // libzmq drops every other command after the handshake (PONG only disarms timers, done above).
      _ => Ok(()),
    }
  }

  fn check_buffered(&self) -> Result<()> {
    // Frames scanned for a raw message still lie in `rbuf`: only their bookkeeping is added.
    let size = self.rbuf.len() + self.partial_bytes + self.scan.frames * FRAME_OVERHEAD;
    let max = self.config.limits.max_buffered;
    if size > max {
      return Err(ZmtpError::BufferLimit { size, max });
    }
    Ok(())
  }

  fn close_on_error(&mut self, result: Result<()>) -> Result<()> {
    if result.is_err() {
      self.stage = Stage::Closed;
      self.rbuf = BytesMut::new();
      self.partial = Vec::new();
      self.partial_bytes = 0;
      self.scan = ScanState::default();
    }
    result
  }

  fn send_frame(&mut self, frame: Frame) -> Result<()> {
    self.send_parts(frame.more, frame.command, &frame.body)
  }

  /// Wraps one frame straight into the write buffer (sealed there for CURVE).
  fn send_parts(&mut self, more: bool, command: bool, body: &[u8]) -> Result<()> {
    self
      .mechanism
      .encode_into(&mut self.out, more, command, body)
  }

  /// Queues a multipart message.
  ///
  /// # Errors
  /// [`ZmtpError::NotReady`] before the handshake is done, [`ZmtpError::Closed`] after an error.
  pub fn send_message(&mut self, frames: &[Bytes]) -> Result<()> {
    self.ensure_traffic()?;
    for (i, body) in frames.iter().enumerate() {
      self.send_parts(i + 1 < frames.len(), false, body)?;
    }
    Ok(())
  }

  /// Queues a subscription change in the form the peer's version calls for.
  ///
  /// # Errors
  /// As [`Session::send_message`].
  pub fn send_subscription(&mut self, sub: &Subscription) -> Result<()> {
    self.ensure_traffic()?;
    let (body, command) = sub.encode(self.version);
    let frame = if command {
      Frame::command(body.freeze())
    } else {
      Frame::data(body.freeze(), false)
    };
    self.send_frame(frame)
  }

  fn ensure_traffic(&self) -> Result<()> {
    match self.stage {
      Stage::Traffic => Ok(()),
      Stage::Closed => Err(ZmtpError::Closed),
      _ => Err(ZmtpError::NotReady),
    }
  }

  /// The next event, if any.
  pub fn poll_event(&mut self) -> Option<Event> {
    self.events.pop_front()
  }

  /// Whether there are bytes to write.
  pub fn has_output(&self) -> bool {
    !self.out.is_empty()
  }

  /// Takes all bytes queued for writing.
  pub fn take_output(&mut self) -> Bytes {
    self.out.split().freeze()
  }

  /// The handshake is done and the session is not closed.
  pub fn is_ready(&self) -> bool {
    self.stage == Stage::Traffic
  }

  /// The wire forms in use with this peer (meaningful once the greeting is in).
  pub fn version(&self) -> Version {
    self.version
  }

  /// When [`Session::handle_timeout`] must be called next.
  pub fn next_timeout(&self) -> Option<Instant> {
    if self.stage == Stage::Closed {
      return None;
    }
    self.timers.next()
  }

  /// Fires whatever timers are due at `now`: sends PINGs, or fails with a timeout.
  ///
  /// # Errors
  /// [`ZmtpError::HandshakeTimeout`], [`ZmtpError::HeartbeatTimeout`], or a closed session.
  pub fn handle_timeout(&mut self, now: Instant) -> Result<()> {
    if self.stage == Stage::Closed {
      return Err(ZmtpError::Closed);
    }
    let result = match self.timers.fire(now, self.stage == Stage::Traffic) {
      Ok(Some(ttl)) => self.send_frame(Frame::command(
        Command::Ping {
          ttl,
          context: Bytes::new(),
        }
        .encode()
        .freeze(),
      )),
      Ok(None) => Ok(()),
      Err(err) => Err(err),
    };
    self.close_on_error(result)
  }
}

#[path = "session_raw.rs"]
mod raw_input;
