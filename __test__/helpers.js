'use strict'
// Shared helpers for the JavaScript tests: unique endpoints, bounded waits on
// events and conditions, and child Node processes that talk in JSON lines.
// Every wait here has a time limit; every child is killed at exit.

const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')

const TRANSPORTS = ['tcp', 'ipc', 'inproc']

let seq = 0

/** A name unique to this process and call: `<prefix>-<pid>-<n>-<random>`. */
function uniqName(prefix = 'zmqbus-test') {
  seq += 1
  return `${prefix}-${process.pid}-${seq}-${Math.random().toString(36).slice(2, 8)}`
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * A fresh endpoint for `transport`: `tcp://127.0.0.1:<free port>`,
 * `ipc://<tmpdir>/<unique>.sock` or `inproc://<unique>`.
 * @param {'tcp'|'ipc'|'inproc'} transport
 * @returns {Promise<string>}
 */
async function uniqAddress(transport = 'tcp') {
  switch (transport) {
    case 'tcp':
      return `tcp://127.0.0.1:${await freePort()}`
    case 'ipc':
      return `ipc://${path.join(os.tmpdir(), uniqName('zmqbus') + '.sock')}`
    case 'inproc':
      return `inproc://${uniqName('zmqbus')}`
    default:
      throw new Error(`unknown transport: ${transport}`)
  }
}

/**
 * Resolves with the arguments (an array) of the next `name` event of
 * `emitter`; rejects after `timeoutMs`.
 */
function captureEvent(emitter, name, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      clearTimeout(timer)
      resolve(args)
    }
    const timer = setTimeout(() => {
      emitter.removeListener(name, onEvent)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event '${name}'`))
    }, timeoutMs)
    emitter.once(name, onEvent)
  })
}

/** A promise that resolves after `ms` (for pacing, never for correctness). */
function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Polls `predicate` (sync or async) every `intervalMs` until it returns a
 * truthy value, which the promise resolves with; rejects after `timeoutMs`.
 */
async function waitFor(predicate, timeoutMs = 2000, intervalMs = 10, what = 'condition') {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    }
    await delay(intervalMs)
  }
}

/** Rejects with a timeout error unless `promise` settles within `timeoutMs`. */
function withTimeout(promise, timeoutMs, what = 'operation') {
  let timer
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

const children = new Set()
process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
})

/**
 * Starts `node scriptPath ...args` with piped stdio and collects its stdout
 * lines. Lines are kept; `waitLine`/`waitJson` take the first line not taken
 * before that matches, so no line is lost between two waits.
 * @returns {{
 *   child: import('node:child_process').ChildProcess,
 *   lines: string[], stderr: () => string,
 *   waitLine: (pred?: (line: string) => boolean, timeoutMs?: number) => Promise<string>,
 *   waitJson: (pred?: (obj: any) => boolean, timeoutMs?: number) => Promise<any>,
 *   iterate: () => AsyncGenerator<string>,
 *   send: (obj: any) => void,
 *   exited: Promise<{code: number|null, signal: string|null}>,
 *   kill: (signal?: string, timeoutMs?: number) => Promise<{code: number|null, signal: string|null}>
 * }}
 */
function spawnNode(scriptPath, args = [], options = {}) {
  const child = spawn(process.execPath, [scriptPath, ...args.map(String)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...(options.env || {}) },
    cwd: options.cwd,
  })
  children.add(child)

  const lines = []
  const taken = new Set()
  let waiters = []
  let errText = ''
  let partial = ''

  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
      notify()
    })
  })
  let done = false
  exited.then(() => {
    done = true
  })

  function notify() {
    const pending = waiters
    waiters = []
    for (const w of pending) w()
  }

  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    partial += chunk
    let nl
    while ((nl = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, nl))
      partial = partial.slice(nl + 1)
    }
    notify()
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    // Keep only the tail: enough to explain a failure.
    errText = (errText + chunk).slice(-8000)
  })
  child.stdin.on('error', () => {
    // The child exited before reading: its exit is reported elsewhere.
  })

  function takeFirst(pred) {
    for (let i = 0; i < lines.length; i++) {
      if (taken.has(i)) continue
      const got = pred(lines[i])
      if (got) {
        taken.add(i)
        return { line: lines[i], got }
      }
    }
    return null
  }

  function waitLine(pred = () => true, timeoutMs = 3000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== check)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a line from ${scriptPath}; ` +
          `lines so far: ${JSON.stringify(lines.slice(-10))}; stderr: ${errText.slice(-2000)}`))
      }, timeoutMs)
      function check() {
        const hit = takeFirst(pred)
        if (hit) {
          clearTimeout(timer)
          resolve(hit.line)
        } else if (done) {
          clearTimeout(timer)
          reject(new Error(`${scriptPath} exited before the awaited line; stderr: ${errText.slice(-2000)}`))
        } else {
          waiters.push(check)
        }
      }
      check()
    })
  }

  async function waitJson(pred = () => true, timeoutMs = 3000) {
    const line = await waitLine((l) => {
      const obj = parseJson(l)
      return obj !== undefined && pred(obj)
    }, timeoutMs)
    return JSON.parse(line)
  }

  async function* iterate() {
    let i = 0
    for (;;) {
      while (i < lines.length) yield lines[i++]
      if (done) return
      await new Promise((resolve) => waiters.push(resolve))
    }
  }

  function send(obj) {
    child.stdin.write(JSON.stringify(obj) + '\n')
  }

  async function kill(signal = 'SIGTERM', timeoutMs = 2000) {
    if (!done) {
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      try {
        await exited
      } finally {
        clearTimeout(timer)
      }
    }
    return exited
  }

  return { child, lines, stderr: () => errText, waitLine, waitJson, iterate, send, exited, kill }
}

function parseJson(line) {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

module.exports = {
  TRANSPORTS,
  uniqName,
  freePort,
  uniqAddress,
  captureEvent,
  delay,
  waitFor,
  withTimeout,
  spawnNode,
}
