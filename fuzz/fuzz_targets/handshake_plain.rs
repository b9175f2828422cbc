//! PLAIN handshake, client and server (with an authenticator), with every message open to mutation.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::zmtp::command::Properties;
use zmtp_fuzz::zmtp::mechanism::{Authenticator, PlainClient, PlainServer, ZapCredentials, ZapReply, ZapRequest};

fuzz_target!(|data: &[u8]| {
  let auth: Arc<dyn Authenticator> = Arc::new(|req: &ZapRequest<'_>| match req.credentials {
    ZapCredentials::Plain { username: b"admin", .. } => ZapReply::allow("admin"),
    _ => ZapReply { status: 300, user_id: Bytes::new() },
  });
  let local = Properties::for_socket("DEALER", b"");
  let mut client = PlainClient::new(local, Bytes::from_static(b"admin"), Bytes::from_static(b"secret"));
  let mut server = PlainServer::new(Properties::for_socket("ROUTER", b""), Some(auth));
  common::run(&mut client, &mut server, data);
});
