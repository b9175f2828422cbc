'use strict'
// The JavaScript half of the packed record format (see src/boundary/mod.rs):
// a record is kind:u8, count:u16 LE, then count frames of len:u32 LE + bytes.
// One Buffer carries a whole batch across the boundary, in either direction.

/** Packs records for one native call. The buffer is reused: native code copies it synchronously. */
class BatchWriter {
  constructor (size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size)
    this.pos = 0
    this.count = 0
  }

  ensure (n) {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /** Starts a record of `kind` with `frames` frames; the frames follow by str()/bytes(). */
  begin (kind, frames) {
    this.ensure(3)
    this.buf[this.pos] = kind
    this.buf.writeUInt16LE(frames, this.pos + 1)
    this.pos += 3
    this.count++
  }

  /** Appends a UTF-8 string frame. */
  str (s) {
    this.ensure(4 + s.length * 3)
    const n = this.buf.utf8Write(s, this.pos + 4)
    this.buf.writeUInt32LE(n, this.pos)
    this.pos += 4 + n
  }

  /** Appends a binary frame (Buffer or Uint8Array). */
  bytes (b) {
    this.ensure(4 + b.length)
    this.buf.writeUInt32LE(b.length, this.pos)
    this.buf.set(b, this.pos + 4)
    this.pos += 4 + b.length
  }

  /** Appends a number frame: 8 bytes, f64 LE (ids and timeouts; `frame_num` in src/boundary/batch.rs). */
  num (n) {
    this.ensure(12)
    this.buf.writeUInt32LE(8, this.pos)
    this.buf.writeDoubleLE(n, this.pos + 4)
    this.pos += 12
  }

  /** Appends a one-byte frame. */
  byte (b) {
    this.ensure(5)
    this.buf.writeUInt32LE(1, this.pos)
    this.buf[this.pos + 4] = b
    this.pos += 5
  }

  /** Appends a frame that may be a string or bytes. */
  frame (f) {
    if (typeof f === 'string') this.str(f)
    else this.bytes(f)
  }

  get empty () { return this.count === 0 }

  /** A view of the packed records; valid until the next write. Resets the writer. */
  take () {
    const view = this.buf.subarray(0, this.pos)
    this.pos = 0
    this.count = 0
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024)
    return view
  }
}

/** Walks the records of a batch from native code. Frames must be read in order. */
class BatchReader {
  constructor (buf) {
    this.buf = buf
    this.pos = 0
    this.left = 0
  }

  /** The next record's kind, or -1 at the end. Skips unread frames of the previous record. */
  next () {
    while (this.left > 0) this.skip()
    if (this.pos >= this.buf.length) return -1
    const kind = this.buf[this.pos]
    this.left = this.buf.readUInt16LE(this.pos + 1)
    this.pos += 3
    return kind
  }

  /** Frames left in the current record. */
  get remaining () { return this.left }

  _span () {
    const n = this.buf.readUInt32LE(this.pos)
    const start = this.pos + 4
    this.pos = start + n
    this.left--
    return start
  }

  /** The next frame as a UTF-8 string. */
  str () {
    const start = this._span()
    return this.buf.utf8Slice(start, this.pos)
  }

  /** The next frame as a number (an 8-byte f64 LE frame, see BatchWriter.num). */
  num () {
    const start = this._span()
    return this.buf.readDoubleLE(start)
  }

  /** The next frame as a zero-copy Buffer view of the batch. */
  view () {
    const start = this._span()
    return this.buf.subarray(start, this.pos)
  }

  /** The next frame as its own Buffer (for data the user may keep). */
  copy () {
    return Buffer.from(this.view())
  }

  skip () { this._span() }
}

module.exports = { BatchWriter, BatchReader }
