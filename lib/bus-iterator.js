'use strict'
// `for await (const msg of node.messages('equity'))`: an async iterator over the messages of
// some channels. Each iterator has its own bounded queue; a message that does not fit is
// dropped and counted on the node (reason 'iterator'), never kept without limit.

const DONE = Object.freeze({ value: undefined, done: true })

class MessageIterator {
  constructor (node, channels, limit) {
    this._node = node
    this._channels = new Set(channels)
    this._all = this._channels.has('*')
    this._limit = limit
    this._queue = []
    this._head = 0
    this._waiter = null
    this._done = false
  }

  /** The channels this iterator listens to (as given). */
  get channels () { return [...this._channels] }

  /** True when a message on `channel` belongs to this iterator. */
  wants (channel) {
    return this._all || this._channels.has(channel)
  }

  /** Called by the node for each matching message. */
  push (msg) {
    if (this._done) return
    if (this._waiter) {
      const resolve = this._waiter
      this._waiter = null
      resolve({ value: msg, done: false })
    } else if (this._queue.length - this._head < this._limit) {
      this._queue.push(msg)
    } else {
      this._node._countDrop(1, 'iterator')
    }
  }

  next () {
    if (this._head < this._queue.length) {
      const value = this._queue[this._head]
      this._queue[this._head++] = undefined
      if (this._head > 1024 && this._head * 2 > this._queue.length) {
        // Compact now and then so a long-lived iterator does not keep a growing array.
        this._queue = this._queue.slice(this._head)
        this._head = 0
      }
      return Promise.resolve({ value, done: false })
    }
    if (this._done) return Promise.resolve(DONE)
    if (this._waiter) return Promise.reject(new Error('messages(): next() called while another next() is pending'))
    return new Promise((resolve) => { this._waiter = resolve })
  }

  /** Ends the iteration (also what `break` in `for await` calls); unsubscribes its channels. */
  return () {
    this._finish(true)
    return Promise.resolve(DONE)
  }

  throw (err) {
    this._finish(true)
    return Promise.reject(err)
  }

  [Symbol.asyncIterator] () { return this }

  /** Ends the iterator; queued messages are discarded when the user ends it. */
  _finish (byUser) {
    if (this._done) return
    this._done = true
    if (byUser) {
      this._queue = []
      this._head = 0
    }
    this._node._iteratorDone(this)
    if (this._waiter) {
      const resolve = this._waiter
      this._waiter = null
      resolve(DONE)
    }
  }
}

module.exports = { MessageIterator }
