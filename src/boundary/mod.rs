//! The Node <-> Rust boundary, batched both ways.
//!
//! Crossing into JavaScript costs microseconds per call, so nothing crosses per message:
//! - JS -> Rust: the facade packs a batch of records into one Buffer and makes one call;
//!   [`batch::Records`] walks it without copying.
//! - Rust -> JS: an engine's event loop appends records to an [`outbox::Outbox`], which hands
//!   the whole batch to one ThreadsafeFunction call when the loop has nothing more ready.
//!
//! A record is `kind: u8`, `count: u16 LE`, then `count` frames of `len: u32 LE` + bytes.
//! `lib/boundary.js` is the JavaScript half of the same format.

pub mod batch;
pub mod outbox;

/// Declares the record kinds of one engine once: each as a `u8` constant for Rust, and all of them in a
/// table by name, which the binding hands to JS (`recordKinds()`), so the facades never restate a number.
#[macro_export]
macro_rules! record_kinds {
  ($table:ident { $( $(#[$doc:meta])* $name:ident = $value:literal; )* }) => {
    $( $(#[$doc])* pub const $name: u8 = $value; )*
    /// Every kind above by name, for the JS side.
    pub const $table: &[(&str, u8)] = &[ $( (stringify!($name), $name), )* ];
  };
}

use bytes::Bytes;

/// What a JS handle sends to its engine's event loop.
#[derive(Debug)]
pub enum Command {
  /// A packed batch of records (copied out of the JS Buffer).
  Batch(Bytes),
  /// End the loop: close sockets, deliver the final events, finish the task.
  Stop,
}
