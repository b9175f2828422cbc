//! NULL handshake, both sides, with every command and traffic frame open to mutation.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::zmtp::command::Properties;
use zmtp_fuzz::zmtp::mechanism::Null;

fuzz_target!(|data: &[u8]| {
  let mut client = Null::new(Properties::for_socket("DEALER", b"id"));
  let mut server = Null::new(Properties::for_socket("ROUTER", b""));
  common::run(&mut client, &mut server, data);
});
