//! The raw-message path of a [`Session`]: with [`super::SessionConfig::raw_messages`] and a mechanism that leaves
//! frames in plaintext (NULL, PLAIN), a whole message is handed over as its wire bytes ([`Event::Raw`]) and
//! can be sent on as they are ([`Session::send_raw`]). A relay then neither splits a message into frame
//! bodies nor frames them again per peer.
//!
//! The same limits hold as on the frame-by-frame path: each announced size against `max_msg_size` before
//! its body is there, frames per message, bytes buffered (the scanned frames stay in the read buffer, so
//! they count there). A command frame (PING, SUBSCRIBE...) or a frame with reserved flag bits takes the
//! frame-by-frame path, as does the rest of a message it interrupts.

use super::{Event, Result, Session, Stage};
use crate::zmtp::greeting::MechanismName;
use crate::zmtp::raw::{self, RawMessage, Scan, ScanState};

/// What one raw step did.
pub(super) enum Step {
  /// A whole message became an [`Event::Raw`].
  Taken,
  /// The message is not whole yet: wait for more bytes.
  Wait,
  /// The frame at the front goes through the frame decoder.
  Decode,
}

impl Session {
  /// Frames travel in plaintext: NULL and PLAIN use the identity traffic codec; CURVE seals each frame.
  fn plaintext(&self) -> bool {
    self.mechanism.name() != MechanismName::Curve
  }

  /// Whether the next message can be taken raw: asked for, in traffic, plaintext, and no message half
  /// taken frame by frame.
  pub(super) fn takes_raw(&self) -> bool {
    self.config.raw_messages
      && self.stage == Stage::Traffic
      && self.partial.is_empty()
      && self.plaintext()
  }

  /// Scans the message at the front of the read buffer and takes it if it is whole.
  pub(super) fn process_raw(&mut self) -> Result<Step> {
    let decoder = self.decoder();
    let max_frames = self.config.limits.max_frames;
    match raw::scan(&decoder, &self.rbuf, &mut self.scan, max_frames)? {
      Scan::Message(_) => {
        self.timers.frame_received();
        let msg = raw::take(&mut self.rbuf, &mut self.scan);
        self.events.push_back(Event::Raw(msg));
        Ok(Step::Taken)
      }
      Scan::Incomplete { progress } => {
        // Any whole frame disarms the heartbeat timeout, as on the frame-by-frame path.
        if progress > 0 {
          self.timers.frame_received();
        }
        Ok(Step::Wait)
      }
      Scan::Decode => {
        // Frames scanned so far are decoded again from the buffer: nothing was taken yet.
        self.scan = ScanState::default();
        Ok(Step::Decode)
      }
    }
  }

  /// Queues a whole message given as its wire bytes: appended as they are when frames travel in plaintext,
  /// framed again one by one otherwise (CURVE seals each frame for this connection).
  ///
  /// # Errors
  /// As [`Session::send_message`].
  pub fn send_raw(&mut self, msg: &RawMessage) -> Result<()> {
    self.ensure_traffic()?;
    if self.plaintext() {
      self.out.extend_from_slice(msg.wire());
      return Ok(());
    }
    self.send_message(&msg.frames())
  }
}
