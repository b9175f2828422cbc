//! CURVE handshake and traffic tests: both sides of ours, exact sizes, wrong keys and tampered boxes.

use std::sync::Arc;

use bytes::Bytes;

use super::super::command::Properties;
use super::super::error::ZmtpError;
use super::super::frame::Frame;
use super::testutil::handshake;
use super::*;

struct Pair {
  client: CurveClient,
  server: CurveServer,
  client_keys: CurveKeyPair,
}

fn pair_with(auth: Option<Arc<dyn Authenticator>>) -> Pair {
  let server_keys = curve_keypair();
  let client_keys = curve_keypair();
  Pair {
    client: CurveClient::new(
      Properties::for_socket("DEALER", b"c1"),
      &client_keys,
      server_keys.public,
    ),
    server: CurveServer::new(
      Properties::for_socket("ROUTER", b""),
      server_keys.secret,
      auth,
    ),
    client_keys,
  }
}

#[test]
fn client_and_server_complete_and_exchange_frames_both_ways() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  handshake(&mut client, &mut server).unwrap();
  assert_eq!(&server.peer_properties().unwrap().identity()[..], b"c1");
  assert_eq!(
    client.peer_properties().unwrap().socket_type(),
    Some("ROUTER")
  );
  for i in 0..3u8 {
    let wire = client.encode(Frame::data(vec![i; 300], i < 2)).unwrap();
    assert!(
      !wire.more && !wire.command,
      "outer frame is plain, as libzmq sends it"
    );
    assert_eq!(
      server.decode(wire).unwrap(),
      Frame::data(vec![i; 300], i < 2)
    );
  }
  let wire = server.encode(Frame::command(&b"\x04PING\0\0"[..])).unwrap();
  assert_eq!(
    client.decode(wire).unwrap(),
    Frame::command(&b"\x04PING\0\0"[..])
  );
}

#[test]
fn handshake_commands_have_the_rfc_sizes_and_nonces() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  let hello = client.next_handshake_command().unwrap().unwrap();
  assert_eq!(hello.len(), 200);
  assert_eq!(&hello[..8], b"\x05HELLO\x01\x00");
  assert_eq!(&hello[112..120], b"\0\0\0\0\0\0\0\x01");
  server.process_handshake_command(&hello).unwrap();
  let welcome = server.next_handshake_command().unwrap().unwrap();
  assert_eq!(welcome.len(), 168);
  client.process_handshake_command(&welcome).unwrap();
  let initiate = client.next_handshake_command().unwrap().unwrap();
  assert!(initiate.len() >= 257);
  assert_eq!(&initiate[105..113], b"\0\0\0\0\0\0\0\x02");
  server.process_handshake_command(&initiate).unwrap();
  let ready = server.next_handshake_command().unwrap().unwrap();
  assert_eq!(&ready[..14], b"\x05READY\0\0\0\0\0\0\0\x01");
  client.process_handshake_command(&ready).unwrap();
  let first = client.encode(Frame::data(&b"x"[..], false)).unwrap();
  assert_eq!(&first.body[..16], b"\x07MESSAGE\0\0\0\0\0\0\0\x03");
  assert_eq!(first.body.len(), 16 + 16 + 2);
}

#[test]
fn a_client_with_the_wrong_server_key_is_refused_at_hello() {
  let mut client = CurveClient::new(
    Properties::default(),
    &curve_keypair(),
    curve_keypair().public,
  );
  let mut server = CurveServer::new(Properties::default(), curve_keypair().secret, None);
  let err = handshake(&mut client, &mut server).unwrap_err();
  assert_eq!(err, ZmtpError::Crypto("HELLO box did not open"));
}

#[test]
fn every_tampered_handshake_byte_in_a_box_is_refused() {
  // Flip one byte inside each command's box: HELLO, WELCOME, INITIATE, READY.
  for step in 0..4 {
    let Pair {
      mut client,
      mut server,
      ..
    } = pair_with(None);
    let mut result = Ok(());
    for msgs in 0..4 {
      let (from, to): (&mut dyn Mechanism, &mut dyn Mechanism) = if msgs % 2 == 0 {
        (&mut client, &mut server)
      } else {
        (&mut server, &mut client)
      };
      let Some(mut cmd) = from.next_handshake_command().unwrap() else {
        break;
      };
      if msgs == step {
        let at = cmd.len() - 5;
        cmd[at] ^= 0x40;
      }
      result = to.process_handshake_command(&cmd);
      if result.is_err() {
        break;
      }
    }
    assert_eq!(result.unwrap_err().reason(), "crypto", "step {step}");
  }
}

#[test]
fn a_tampered_message_box_is_refused() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  handshake(&mut client, &mut server).unwrap();
  let wire = client.encode(Frame::data(&b"payload"[..], false)).unwrap();
  let mut body = wire.body.to_vec();
  body[20] ^= 1;
  let err = server.decode(Frame::data(body, false)).unwrap_err();
  assert_eq!(err, ZmtpError::Crypto("MESSAGE box did not open"));
}

#[test]
fn a_replayed_message_is_refused() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  handshake(&mut client, &mut server).unwrap();
  let wire = client.encode(Frame::data(&b"once"[..], false)).unwrap();
  server.decode(wire.clone()).unwrap();
  assert_eq!(
    server.decode(wire).unwrap_err(),
    ZmtpError::NonceReplay { got: 3, last: 3 }
  );
}

#[test]
fn short_or_misnamed_messages_are_refused() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  handshake(&mut client, &mut server).unwrap();
  let short = Frame::data(Bytes::from_static(b"\x07MESSAGE\0\0\0\0\0\0\0\x09"), false);
  assert_eq!(
    server.decode(short).unwrap_err(),
    ZmtpError::Malformed("CURVE MESSAGE")
  );
  let plain = Frame::data(Bytes::from(vec![0u8; 40]), false);
  assert_eq!(
    server.decode(plain).unwrap_err(),
    ZmtpError::Malformed("CURVE MESSAGE")
  );
}

#[test]
fn hello_of_the_wrong_size_or_version_is_refused() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  let hello = client.next_handshake_command().unwrap().unwrap();
  let mut wrong_version = hello.to_vec();
  wrong_version[7] = 1;
  assert_eq!(
    server.process_handshake_command(&wrong_version),
    Err(ZmtpError::Malformed("CURVE HELLO"))
  );
  assert_eq!(
    server.process_handshake_command(&hello[..199]),
    Err(ZmtpError::Malformed("CURVE HELLO"))
  );
}

#[test]
fn authenticator_sees_the_clients_public_key_and_can_refuse() {
  let allowed = curve_keypair().public;
  let auth: Arc<dyn Authenticator> = Arc::new(move |req: &ZapRequest<'_>| match req.credentials {
    ZapCredentials::Curve { public_key } if *public_key == allowed => ZapReply::allow("ok"),
    _ => ZapReply::deny(),
  });
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(Some(auth));
  assert_eq!(
    handshake(&mut client, &mut server),
    Err(ZmtpError::AuthRefused(400))
  );
  let error = server.next_handshake_command().unwrap().unwrap();
  assert_eq!(&error[..], b"\x05ERROR\x03400");
  assert_eq!(
    client.process_handshake_command(&error),
    Err(ZmtpError::PeerError("400".into()))
  );
}

#[test]
fn authenticator_allows_a_known_key_and_sets_the_user_id() {
  let auth_keys = Arc::new(std::sync::Mutex::new(None::<[u8; 32]>));
  let seen = auth_keys.clone();
  let auth: Arc<dyn Authenticator> = Arc::new(move |req: &ZapRequest<'_>| {
    if let ZapCredentials::Curve { public_key } = req.credentials {
      // The test holds the lock only briefly; poisoning would mean a panic in this closure.
      *seen.lock().expect("lock") = Some(*public_key);
    }
    ZapReply::allow("alice")
  });
  let Pair {
    mut client,
    mut server,
    client_keys,
  } = pair_with(Some(auth));
  handshake(&mut client, &mut server).unwrap();
  assert_eq!(*auth_keys.lock().unwrap(), Some(client_keys.public));
  assert_eq!(server.user_id().map(|u| &u[..]), Some(&b"alice"[..]));
}

#[test]
fn an_initiate_with_a_forged_cookie_is_refused() {
  let Pair {
    mut client,
    mut server,
    ..
  } = pair_with(None);
  let hello = client.next_handshake_command().unwrap().unwrap();
  server.process_handshake_command(&hello).unwrap();
  let welcome = server.next_handshake_command().unwrap().unwrap();
  client.process_handshake_command(&welcome).unwrap();
  let mut initiate = client.next_handshake_command().unwrap().unwrap();
  initiate[30] ^= 1; // inside the cookie's box
  assert_eq!(
    server.process_handshake_command(&initiate),
    Err(ZmtpError::Crypto("cookie did not open"))
  );
}
