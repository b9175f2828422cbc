//! Tests for the codec: round trips of every frame shape and every malformed case.

use super::*;

fn b(x: &'static str) -> Bytes {
  Bytes::from_static(x.as_bytes())
}

fn frames(xs: &[&'static str]) -> Vec<Bytes> {
  xs.iter().map(|x| b(x)).collect()
}

#[test]
fn client_request_round_trips() {
  let f = encode_request(b("echo"), b("r1"), b("\"hi\""), b("{\"timeout\":5}"));
  assert_eq!(
    f,
    frames(&["C", "2", "echo", "r1", "\"hi\"", "{\"timeout\":5}"])
  );
  assert_eq!(
    parse(&f),
    Ok(Message::Client(FromClient::Request {
      service: b("echo"),
      rid: b("r1"),
      data: b("\"hi\""),
      opts: b("{\"timeout\":5}")
    }))
  );
}

#[test]
fn client_request_without_data_and_opts_gets_empty_frames() {
  let m = parse(&frames(&["C", "2", "echo", "r1"])).unwrap();
  assert_eq!(
    m,
    Message::Client(FromClient::Request {
      service: b("echo"),
      rid: b("r1"),
      data: b(""),
      opts: b("")
    })
  );
}

#[test]
fn client_heartbeats_round_trip() {
  assert_eq!(
    parse(&encode_client_heartbeat()),
    Ok(Message::Client(FromClient::Heartbeat))
  );
  assert_eq!(
    parse(&encode_request_heartbeat(b("r9"))),
    Ok(Message::Client(FromClient::RequestHeartbeat {
      rid: b("r9")
    }))
  );
  assert_eq!(
    parse(&encode_worker_liveness(b("w1"))),
    Ok(Message::Client(FromClient::WorkerHeartbeat {
      worker_id: b("w1")
    }))
  );
}

#[test]
fn old_three_frame_request_heartbeat_is_accepted() {
  assert_eq!(
    parse(&frames(&["C", "4", "r1"])),
    Ok(Message::Client(FromClient::RequestHeartbeat {
      rid: b("r1")
    }))
  );
}

#[test]
fn client_heartbeat_with_unknown_subtype_is_a_type_error() {
  assert_eq!(
    parse(&frames(&["C", "4", "bogus", "x"])),
    Err(CodecError::Type)
  );
}

#[test]
fn worker_messages_round_trip() {
  assert_eq!(
    parse(&encode_ready(b("echo"))),
    Ok(Message::Worker(FromWorker::Ready { service: b("echo") }))
  );
  assert_eq!(
    parse(&encode_worker_heartbeat(b("{\"concurrency\":2}"))),
    Ok(Message::Worker(FromWorker::Heartbeat {
      info: b("{\"concurrency\":2}")
    }))
  );
  assert_eq!(
    parse(&encode_disconnect()),
    Ok(Message::Worker(FromWorker::Disconnect))
  );
  for kind in [ReplyKind::Partial, ReplyKind::Final, ReplyKind::Reject] {
    let f = encode_worker_reply(kind, b("c1"), b("r1"), b("0"), b("1"), b("{}"));
    assert_eq!(f.len(), 8);
    assert_eq!(
      parse(&f),
      Ok(Message::Worker(FromWorker::Reply {
        kind,
        client: b("c1"),
        rid: b("r1"),
        status: b("0"),
        data: b("1"),
        opts: b("{}")
      }))
    );
  }
}

#[test]
fn bare_worker_heartbeat_has_empty_info() {
  assert_eq!(
    parse(&frames(&["W", "4"])),
    Ok(Message::Worker(FromWorker::Heartbeat { info: b("") }))
  );
}

#[test]
fn short_reject_from_old_workers_parses_with_empty_tail() {
  let m = parse(&frames(&["W", "7", "c1", "", "r1"])).unwrap();
  assert_eq!(
    m,
    Message::Worker(FromWorker::Reply {
      kind: ReplyKind::Reject,
      client: b("c1"),
      rid: b("r1"),
      status: b(""),
      data: b(""),
      opts: b("")
    })
  );
}

#[test]
fn malformed_broker_input_gives_pigato_codes() {
  let cases: &[(&[&'static str], CodecError)] = &[
    (&[], CodecError::Length),
    (&["X", "2"], CodecError::Header),
    (&[""], CodecError::Header),
    (&["C"], CodecError::Length),
    (&["W"], CodecError::Length),
    (&["C", "2", "echo"], CodecError::Length),
    (&["C", "9"], CodecError::Type),
    (&["C", "3", "", "r"], CodecError::Type),
    (&["W", "1"], CodecError::Length),
    (&["W", "3", "c", ""], CodecError::Length),
    (&["W", "8"], CodecError::Type),
    (&["W", "2", "a", "b", "c"], CodecError::Type),
  ];
  for (f, err) in cases {
    assert_eq!(parse(&frames(f)), Err(*err), "{f:?}");
  }
  assert_eq!(CodecError::Header.pigato_code(), "ERR_MSG_HEADER");
  assert_eq!(CodecError::Length.pigato_code(), "ERR_MSG_LENGTH");
  assert_eq!(CodecError::Type.pigato_code(), "ERR_MSG_TYPE");
}

#[test]
fn client_reply_round_trips_for_partial_and_final() {
  for kind in [ReplyKind::Partial, ReplyKind::Final] {
    let f = encode_client_reply(kind, b("r1"), b("-1"), b("\"boom\""), b("{}"));
    assert_eq!(f.len(), 7);
    assert_eq!(&f[2][..], b"");
    assert_eq!(
      parse_to_client(&f),
      Ok(ToClient::Reply {
        kind,
        rid: b("r1"),
        status: b("-1"),
        data: b("\"boom\""),
        opts: b("{}")
      })
    );
  }
}

#[test]
fn reject_kind_is_written_to_clients_as_final() {
  let f = encode_client_reply(ReplyKind::Reject, b("r"), b("0"), b(""), b(""));
  assert_eq!(&f[1][..], b"3");
}

#[test]
fn client_side_parse_of_heartbeat_and_errors() {
  assert_eq!(
    parse_to_client(&encode_client_heartbeat()),
    Ok(ToClient::Heartbeat)
  );
  assert_eq!(
    parse_to_client(&frames(&["W", "4"])),
    Err(CodecError::Header)
  );
  assert_eq!(parse_to_client(&frames(&[])), Err(CodecError::Length));
  assert_eq!(parse_to_client(&frames(&["C"])), Err(CodecError::Length));
  assert_eq!(
    parse_to_client(&frames(&["C", "3", ""])),
    Err(CodecError::Length)
  );
  assert_eq!(
    parse_to_client(&frames(&["C", "7", "", "r"])),
    Err(CodecError::Type)
  );
  assert_eq!(parse_to_client(&frames(&["C", "x"])), Err(CodecError::Type));
}

#[test]
fn client_side_parse_fills_missing_reply_frames() {
  assert_eq!(
    parse_to_client(&frames(&["C", "3", "", "r1"])),
    Ok(ToClient::Reply {
      kind: ReplyKind::Final,
      rid: b("r1"),
      status: b(""),
      data: b(""),
      opts: b("")
    })
  );
}

#[test]
fn worker_side_parse_round_trips_every_broker_message() {
  assert_eq!(parse_to_worker(&encode_ready_ack()), Ok(ToWorker::ReadyAck));
  assert_eq!(
    parse_to_worker(&encode_broker_heartbeat()),
    Ok(ToWorker::Heartbeat)
  );
  assert_eq!(
    parse_to_worker(&encode_disconnect()),
    Ok(ToWorker::Disconnect)
  );
  assert_eq!(
    parse_to_worker(&encode_forwarded_heartbeat(b("c1"), b("r1"))),
    Ok(ToWorker::RequestHeartbeat {
      client: b("c1"),
      rid: b("r1")
    })
  );
  let f = encode_worker_request(b("c1"), b("echo"), b("r1"), b("1"), b("{}"));
  assert_eq!(f, frames(&["W", "2", "c1", "echo", "", "r1", "1", "{}"]));
  assert_eq!(
    parse_to_worker(&f),
    Ok(ToWorker::Request {
      client: b("c1"),
      service: b("echo"),
      rid: b("r1"),
      data: b("1"),
      opts: b("{}")
    })
  );
}

#[test]
fn worker_side_parse_rejects_malformed_messages() {
  assert_eq!(
    parse_to_worker(&frames(&["C", "4"])),
    Err(CodecError::Header)
  );
  assert_eq!(parse_to_worker(&frames(&[])), Err(CodecError::Length));
  assert_eq!(parse_to_worker(&frames(&["W"])), Err(CodecError::Length));
  assert_eq!(
    parse_to_worker(&frames(&["W", "2", "c", "s", ""])),
    Err(CodecError::Length)
  );
  assert_eq!(parse_to_worker(&frames(&["W", "3"])), Err(CodecError::Type));
}

#[test]
fn parsed_frames_share_memory_with_the_input() {
  let big = Bytes::from(vec![b'x'; 1024]);
  let f = vec![b("C"), b("2"), b("s"), b("r"), big.clone(), b("")];
  match parse(&f) {
    Ok(Message::Client(FromClient::Request { data, .. })) => {
      assert_eq!(data.as_ptr(), big.as_ptr())
    }
    other => panic!("{other:?}"),
  }
}
