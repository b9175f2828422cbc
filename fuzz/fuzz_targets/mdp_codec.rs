//! The pigato (MDP) codec over arbitrary multipart messages, as the broker, a client and a worker parse what
//! a peer sends: no panic, no hang, nothing allocated beyond the frames given.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::mdp_codec::{parse, parse_to_client, parse_to_worker};

fuzz_target!(|data: &[u8]| {
  // Byte 0 splits the rest into frames: each frame's length is taken modulo it (0 = one frame per byte).
  let Some((&width, rest)) = data.split_first() else { return };
  let width = usize::from(width);
  let mut frames = Vec::new();
  let mut at = 0;
  while at < rest.len() && frames.len() < 64 {
    let len = if width == 0 { 1 } else { usize::from(rest[at]) % (width + 1) };
    let start = (at + 1).min(rest.len());
    let end = (start + len).min(rest.len());
    frames.push(Bytes::copy_from_slice(&rest[start..end]));
    at = end.max(at + 1);
  }
  let _ = parse(&frames);
  let _ = parse_to_client(&frames);
  let _ = parse_to_worker(&frames);
});
