//! CURVE handshake, client and server, with every command and MESSAGE box open to mutation (a real client and
//! server produce the boxes, so the fuzzer reaches the cookie, vouch and nonce checks, not only the sizes).
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::zmtp::command::Properties;
use zmtp_fuzz::zmtp::mechanism::{curve_keypair, CurveClient, CurveKeyPair, CurveServer};

/// The long-term keys are made once: each run still does every ephemeral key, box and cookie of a handshake, and
/// two key generations per input only slowed the run.
static KEYS: OnceLock<(CurveKeyPair, CurveKeyPair)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
  let (server_keys, client_keys) = KEYS.get_or_init(|| (curve_keypair(), curve_keypair()));
  let mut client = CurveClient::new(Properties::for_socket("DEALER", b""), client_keys, server_keys.public);
  let mut server = CurveServer::new(Properties::for_socket("ROUTER", b""), server_keys.secret, None);
  common::run(&mut client, &mut server, data);
});
