//! Command records in, event records out, against the JS facade's format.

use super::*;
use crate::boundary::batch::Record;

fn record(kind: u8, frames: &[&str]) -> Record {
  Record {
    kind,
    frames: frames
      .iter()
      .map(|f| Bytes::copy_from_slice(f.as_bytes()))
      .collect(),
  }
}

#[test]
fn attach_push_and_consume_records_parse() {
  assert_eq!(
    parse_command(&record(command::ATTACH, &["3", "30", "10", "1"])),
    Ok(Command::Attach {
      qid: 3,
      opts: AttachOptions {
        ttl: 30,
        maxsize: 10,
        discoverable: true
      }
    })
  );
  assert_eq!(
    parse_command(&record(command::PUSH, &["3", "0", "hi"])),
    Ok(Command::Push {
      qid: 3,
      rid: 0,
      payload: Bytes::from_static(b"hi")
    })
  );
  assert_eq!(
    parse_command(&record(command::CONSUME, &["3", "0", "-1"])),
    Ok(Command::Consume {
      qid: 3,
      remove: false,
      max: -1,
      reliable: None,
    })
  );
}

#[test]
fn metadata_set_takes_pairs_after_the_ttl() {
  assert_eq!(
    parse_command(&record(
      command::QUERY,
      &["1", "2", "set", "30", "a", "1", "b", "2"]
    )),
    Ok(Command::Query {
      qid: 1,
      rid: 2,
      query: Query::MetaSet {
        pairs: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        ttl: 30
      }
    })
  );
}

#[test]
fn malformed_records_are_errors_not_panics() {
  assert_eq!(
    parse_command(&record(99, &["1"])),
    Err(CodecError::Kind(99))
  );
  assert_eq!(
    parse_command(&record(command::PUSH, &["1"])),
    Err(CodecError::Frame(command::PUSH))
  );
  assert_eq!(
    parse_command(&record(command::ATTACH, &["x"])),
    Err(CodecError::Frame(command::ATTACH))
  );
  assert_eq!(
    parse_command(&record(command::QUERY, &["1", "2", "drop"])),
    Err(CodecError::Frame(command::QUERY))
  );
  assert_eq!(
    parse_command(&record(command::QUERY, &["1", "2", "set", "30"])),
    Err(CodecError::Frame(command::QUERY))
  );
}

#[test]
fn events_encode_as_kind_and_text_frames() {
  let mut out = Vec::new();
  let mut push = |kind: u8, frames: &[&[u8]]| {
    out.push((kind, frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>()))
  };
  encode_event(
    &Event::Message {
      qid: 2,
      id: 7,
      payload: Bytes::from_static(b"p"),
    },
    &mut push,
  );
  encode_event(&Event::PushReply { rid: 4, id: None }, &mut push);
  encode_reply(5, &ReplyValue::Bool(true), &mut push);
  assert_eq!(
    out[0],
    (
      event::MESSAGE,
      vec![b"2".to_vec(), b"7".to_vec(), b"p".to_vec()]
    )
  );
  assert_eq!(out[1], (event::PUSHED, vec![b"4".to_vec(), b"".to_vec()]));
  assert_eq!(
    out[2],
    (
      event::REPLY,
      vec![b"5".to_vec(), b"b".to_vec(), b"1".to_vec()]
    )
  );
}

#[test]
fn kinds_json_names_every_kind_once() {
  let v: serde_json::Value = serde_json::from_str(&kinds_json()).unwrap();
  assert_eq!(v["C_PUSH"], 5);
  assert_eq!(v["E_MESSAGE"], 9);
  assert_eq!(v["E_PUBSUB_MESSAGE"], 18);
  assert_eq!(v.as_object().unwrap().len(), 31);
}

#[test]
fn reliable_consume_and_ack_records_parse() {
  assert_eq!(
    parse_command(&record(command::CONSUME, &["3", "1", "-1", "17"])),
    Ok(Command::Consume {
      qid: 3,
      remove: true,
      max: -1,
      reliable: Some(17),
    })
  );
  assert_eq!(
    parse_command(&record(command::QUERY, &["3", "4", "ack", "30", "9"])),
    Ok(Command::Query {
      qid: 3,
      rid: 4,
      query: Query::Ack { id: 9, ttl: 30 },
    })
  );
}

#[test]
fn pubsub_and_key_records_parse() {
  assert_eq!(
    parse_command(&record(command::SUBSCRIBE, &["4", "bus:pubsub:n"])),
    Ok(Command::Subscribe {
      pid: 4,
      channel: "bus:pubsub:n".into()
    })
  );
  assert_eq!(
    parse_command(&record(
      command::PUBLISH,
      &["4", "9", "bus:pubsub:n", "hey"]
    )),
    Ok(Command::Publish {
      pid: 4,
      rid: 9,
      channel: "bus:pubsub:n".into(),
      payload: Bytes::from_static(b"hey")
    })
  );
  assert_eq!(
    parse_command(&record(
      command::KEY,
      &["0", "2", "bus:persisted:p", "hset", "60", "a", "1"]
    )),
    Ok(Command::Key {
      rid: 2,
      key: "bus:persisted:p".into(),
      query: KeyQuery::HSet {
        pairs: vec![("a".into(), "1".into())],
        ttl: 60
      }
    })
  );
  assert_eq!(
    parse_command(&record(command::KEY, &["0", "2", "k", "hset", "60"])),
    Err(CodecError::Frame(command::KEY))
  );
}

#[test]
fn pubsub_events_encode_pid_first() {
  let mut got = Vec::new();
  encode_event(
    &Event::PubsubMessage {
      pid: 5,
      payload: Bytes::from_static(b"m"),
    },
    &mut |kind, frames| got.push((kind, frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>())),
  );
  assert_eq!(
    got,
    vec![(event::PUBSUB_MESSAGE, vec![b"5".to_vec(), b"m".to_vec()])]
  );
}
