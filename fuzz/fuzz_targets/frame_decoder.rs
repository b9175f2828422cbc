//! Frame decoder, command and property parsers over arbitrary bytes, fed in arbitrary chunks: no panic, no
//! allocation beyond the bytes given, every frame within the limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::zmtp::command::{Command, Properties};
use zmtp_fuzz::zmtp::frame::FrameDecoder;

fuzz_target!(|data: &[u8]| {
  let Some((&chunk, data)) = data.split_first() else { return };
  let chunk = usize::from(chunk).max(1);
  let decoder = FrameDecoder::new(4096);
  let mut buf = BytesMut::new();
  for piece in data.chunks(chunk) {
    buf.extend_from_slice(piece);
    loop {
      match decoder.decode(&mut buf) {
        Ok(Some(frame)) => {
          assert!(frame.body.len() <= 4096);
          let _ = Command::parse(&frame.body);
          let _ = Properties::parse(&frame.body);
        }
        Ok(None) => break,
        Err(_) => return,
      }
    }
    assert!(buf.len() <= data.len());
  }
});
