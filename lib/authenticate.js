'use strict'
// A server socket's authenticator function (`sock.authorize({ handler })`): the engine asks it during each
// handshake, on this thread, with `(mechanism, domain, a, b)` (src/binding/authenticator.rs), and takes a
// string (admitted, with that user id) or a ZAP status (300, 400, 500: refused). This turns the user's
// handler, which sees one request object and answers in its own terms, into that shape.

const { codeError } = require('./errors')

/** The request object the user's handler sees. */
function request (mechanism, domain, a, b) {
  if (mechanism === 'PLAIN') return { mechanism, domain, username: a, password: b }
  if (mechanism === 'CURVE') return { mechanism, domain, publicKey: a }
  return { mechanism, domain }
}

/**
 * The user's answer in the engine's terms: `true` or a string (a user id) admits; `false`, `null`,
 * `undefined` or 400 refuse; 300 is ZAP's temporary failure (the peer is closed without an ERROR), 500 an
 * internal error. Anything else is the handler's mistake: reported, and refused.
 */
function answerOf (answer) {
  if (answer === true || answer === 200) return ''
  if (typeof answer === 'string') return answer
  if (answer === false || answer === null || answer === undefined || answer === 400) return 400
  if (answer === 300 || answer === 500) return answer
  if (answer && typeof answer.then === 'function') {
    return codeError('EINVAL', 'an authenticator handler must answer synchronously (it returned a Promise)', TypeError)
  }
  return codeError('EINVAL', `an authenticator handler answers true, false, a user id or 300/400/500; received ${String(answer)}`, TypeError)
}

/**
 * The function the engine calls for `sock`. What the handler throws, or a wrong answer, refuses the peer
 * (500) and reaches the socket's 'error' listeners, or a process warning when there are none: a bad
 * handler never takes the process down from inside a handshake.
 */
function engineHandler (sock, handler) {
  if (typeof handler !== 'function') {
    throw codeError('EINVAL', `authorize handler must be a function; received ${typeof handler}`, TypeError)
  }
  return (mechanism, domain, a, b) => {
    let answer
    try {
      answer = answerOf(handler(request(mechanism, domain, a, b)))
    } catch (err) {
      answer = err
    }
    if (!(answer instanceof Error)) return answer
    process.nextTick(() => {
      if (sock.listenerCount('error') > 0) sock.emit('error', answer)
      else process.emitWarning(answer)
    })
    return 500
  }
}

module.exports = { engineHandler }
