//! The packed record format shared with `lib/boundary.js` (pure, no I/O).

use bytes::Bytes;
use thiserror::Error;

/// Why a packed batch from JavaScript could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
  /// The buffer ends inside a record header or frame.
  #[error("packed batch truncated at byte {0}")]
  Truncated(usize),
}

/// A number frame (`f64 LE`, 8 bytes; `BatchWriter.num()` in JS).
pub fn num_frame(n: f64) -> [u8; 8] {
  n.to_le_bytes()
}

/// The value of a number frame, `None` unless it is 8 bytes.
pub fn frame_num(frame: &[u8]) -> Option<f64> {
  <[u8; 8]>::try_from(frame).ok().map(f64::from_le_bytes)
}

/// The value of a number frame holding a whole number in `0..2^53` (an id from JS), else `None`.
pub fn frame_id(frame: &[u8]) -> Option<u64> {
  const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
  let n = frame_num(frame)?;
  // Checked whole and in range: the cast is exact.
  ((0.0..=MAX_SAFE).contains(&n) && n.fract() == 0.0).then_some(n as u64)
}

/// Builds one packed batch. Reused across flushes so steady state allocates nothing.
#[derive(Debug, Default)]
pub struct BatchWriter {
  buf: Vec<u8>,
  records: usize,
}

impl BatchWriter {
  /// An empty writer with room for `capacity` bytes.
  pub fn with_capacity(capacity: usize) -> Self {
    Self {
      buf: Vec::with_capacity(capacity),
      records: 0,
    }
  }

  /// Appends one record of `kind` with the given frames.
  pub fn push<F: AsRef<[u8]>>(&mut self, kind: u8, frames: &[F]) {
    // Callers never build records of more than 65,535 frames (ZeroMQ messages of that many
    // parts are refused upstream); saturate rather than wrap if one ever does.
    let count = u16::try_from(frames.len()).unwrap_or(u16::MAX);
    self.buf.push(kind);
    self.buf.extend_from_slice(&count.to_le_bytes());
    for frame in frames.iter().take(usize::from(count)) {
      self.push_frame(frame.as_ref());
    }
    self.records += 1;
  }

  /// Appends one record whose frames are an iterator (avoids collecting a Vec first).
  pub fn push_iter<'a, I>(&mut self, kind: u8, count: u16, frames: I)
  where
    I: IntoIterator<Item = &'a [u8]>,
  {
    self.buf.push(kind);
    self.buf.extend_from_slice(&count.to_le_bytes());
    for frame in frames.into_iter().take(usize::from(count)) {
      self.push_frame(frame);
    }
    self.records += 1;
  }

  fn push_frame(&mut self, frame: &[u8]) {
    // Frames over 4 GiB cannot come from ZeroMQ here (the transports cap message size).
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    self.buf.extend_from_slice(&len.to_le_bytes());
    self.buf.extend_from_slice(&frame[..len as usize]);
  }

  /// Bytes held so far.
  pub fn len(&self) -> usize {
    self.buf.len()
  }

  /// Records held so far.
  pub fn records(&self) -> usize {
    self.records
  }

  /// True when no record is held.
  pub fn is_empty(&self) -> bool {
    self.records == 0
  }

  /// Takes the finished batch, leaving an empty writer with the same capacity hint.
  pub fn take(&mut self) -> Vec<u8> {
    self.records = 0;
    let capacity = self.buf.capacity().clamp(256, 1 << 20);
    std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
  }
}

/// The byte offset just past `n` whole records of a packed batch, counting from `start` (a record
/// boundary); the end of `buf` when fewer than `n` records follow. Used to hand a batch over in parts.
pub fn records_end(buf: &[u8], start: usize, n: usize) -> usize {
  let mut at = start;
  for _ in 0..n {
    let Some(head) = buf.get(at..at + 3) else {
      return buf.len();
    };
    let frames = u16::from_le_bytes([head[1], head[2]]);
    at += 3;
    for _ in 0..frames {
      let Some(len) = buf.get(at..at + 4) else {
        return buf.len();
      };
      let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
      at = at.saturating_add(4).saturating_add(len).min(buf.len());
    }
  }
  at
}

/// One record read from a packed batch; frames are zero-copy slices of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
  /// The record's kind byte (engine-specific meaning).
  pub kind: u8,
  /// The record's frames.
  pub frames: Vec<Bytes>,
}

/// Iterates the records of a packed batch.
pub struct Records {
  data: Bytes,
  pos: usize,
}

impl Records {
  /// Reads records out of `data` (usually the copy of a JS Buffer).
  pub fn new(data: Bytes) -> Self {
    Self { data, pos: 0 }
  }

  fn read_u16(&mut self) -> Result<u16, BatchError> {
    let end = self.pos + 2;
    let bytes = self
      .data
      .get(self.pos..end)
      .ok_or(BatchError::Truncated(self.pos))?;
    self.pos = end;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
  }

  fn read_frame(&mut self) -> Result<Bytes, BatchError> {
    let head = self
      .data
      .get(self.pos..self.pos + 4)
      .ok_or(BatchError::Truncated(self.pos))?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let start = self.pos + 4;
    let end = start.checked_add(len).ok_or(BatchError::Truncated(start))?;
    if end > self.data.len() {
      return Err(BatchError::Truncated(start));
    }
    self.pos = end;
    Ok(self.data.slice(start..end))
  }
}

impl Iterator for Records {
  type Item = Result<Record, BatchError>;

  fn next(&mut self) -> Option<Self::Item> {
    if self.pos >= self.data.len() {
      return None;
    }
    let kind = self.data[self.pos];
    self.pos += 1;
    let record = self.read_u16().and_then(|count| {
      let mut frames = Vec::with_capacity(usize::from(count));
      for _ in 0..count {
        frames.push(self.read_frame()?);
      }
      Ok(Record { kind, frames })
    });
    if record.is_err() {
      // A broken batch stops here: nothing after the damage can be trusted.
      self.pos = self.data.len();
    }
    Some(record)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn written_records_read_back_with_empty_and_binary_frames() {
    let mut writer = BatchWriter::default();
    writer.push(7, &[&b"abc"[..], b"", &[0u8, 255, 1]]);
    writer.push(1, &[] as &[&[u8]]);
    assert_eq!(writer.records(), 2);
    let records: Vec<_> = Records::new(Bytes::from(writer.take())).collect();
    assert_eq!(
      records,
      vec![
        Ok(Record {
          kind: 7,
          frames: vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(&[0, 255, 1])
          ]
        }),
        Ok(Record {
          kind: 1,
          frames: vec![]
        }),
      ]
    );
    assert!(writer.is_empty());
  }

  #[test]
  fn record_layout_is_kind_count_then_length_prefixed_frames() {
    let mut writer = BatchWriter::default();
    writer.push(2, &[b"hi"]);
    assert_eq!(writer.take(), vec![2, 1, 0, 2, 0, 0, 0, b'h', b'i']);
  }

  #[test]
  fn truncated_batch_yields_one_error_then_stops() {
    let data = Bytes::from_static(&[2, 1, 0, 9, 0, 0, 0, b'h']);
    let mut records = Records::new(data);
    assert_eq!(records.next(), Some(Err(BatchError::Truncated(7))));
    assert_eq!(records.next(), None);
  }

  #[test]
  fn huge_declared_frame_length_is_an_error_not_a_panic() {
    let data = Bytes::from_static(&[2, 1, 0, 255, 255, 255, 255, 0]);
    assert!(matches!(
      Records::new(data).next(),
      Some(Err(BatchError::Truncated(_)))
    ));
  }

  #[test]
  fn push_iter_matches_push() {
    let mut a = BatchWriter::default();
    let mut b = BatchWriter::default();
    a.push(3, &[&b"x"[..], &b"yz"[..]]);
    b.push_iter(3, 2, [&b"x"[..], &b"yz"[..]]);
    assert_eq!(a.take(), b.take());
  }

  #[test]
  fn records_end_finds_record_boundaries() {
    let mut writer = BatchWriter::default();
    writer.push(1, &[b"ab"]);
    writer.push(2, &[] as &[&[u8]]);
    writer.push(3, &[&b"x"[..], &b"yz"[..]]);
    let buf = writer.take();
    assert_eq!(records_end(&buf, 0, 1), 9);
    assert_eq!(records_end(&buf, 9, 1), 12);
    assert_eq!(records_end(&buf, 0, 3), buf.len());
    assert_eq!(records_end(&buf, 0, 10), buf.len());
    let second: Vec<_> = Records::new(Bytes::copy_from_slice(&buf[9..records_end(&buf, 9, 2)]))
      .map(|r| r.map(|r| r.kind))
      .collect();
    assert_eq!(second, [Ok(2), Ok(3)]);
  }

  #[test]
  fn number_frames_round_trip_and_ids_are_whole_and_safe() {
    assert_eq!(frame_num(&num_frame(1.5)), Some(1.5));
    assert_eq!(frame_num(b"1234567"), None);
    assert_eq!(frame_id(&num_frame(42.0)), Some(42));
    assert_eq!(
      frame_id(&num_frame(9_007_199_254_740_991.0)),
      Some((1 << 53) - 1)
    );
    for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_992.0] {
      assert_eq!(frame_id(&num_frame(bad)), None, "{bad}");
    }
  }
}
