'use strict'
// What the fault-suite cases share: `--short`, children that talk in JSON lines (every child is
// killed when the case ends, fails, or gets SIGINT/SIGTERM), RSS and descriptors from /proc, free
// loopback ports, bounded waits, and the CHAOS result line the runner reads.
//
// A case prints progress to stderr and, as its last stdout line, `CHAOS {json}`; exit 0 when held.

const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const SHORT = process.argv.includes('--short')

/** Progress on stderr, with the seconds since the case began. */
const T0 = Date.now()
function log (...args) {
  process.stderr.write(`[${((Date.now() - T0) / 1000).toFixed(1)}s] ${args.join(' ')}\n`)
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Resident set size of `pid` in MB (0 when it is gone). */
function rssMb (pid = process.pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch { return 0 }
}

/**
 * Resident size in MB of the `[heap]` mapping of `pid`: glibc's main malloc arena, where the native
 * allocations of a JS-thread engine (our worker and client run there) and Node's own live. Unlike
 * RSS it leaves out the V8 heap, which takes ~20 s to settle in a fresh process, so native growth
 * shows within seconds. null when there is no such mapping (or the process is gone).
 */
function mallocHeapMb (pid = process.pid) {
  try {
    const m = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch { return null }
}

/** Open file descriptors of `pid` (-1 when it is gone). */
function fdCount (pid = process.pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length } catch { return -1 }
}

/** The hard limit of open files a child may raise its `ulimit -n` to (a number, or Infinity). */
function nofileHardLimit () {
  const out = require('node:child_process').execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
  return out === 'unlimited' ? Infinity : Number(out)
}

/** Throws a clear error when children cannot get `need` open files. */
function needNofile (need) {
  const hard = nofileHardLimit()
  if (hard < need) throw new Error(`this case needs ulimit -n ${need} in its processes, and the hard limit here is ${hard}: raise it (limits.conf, systemd LimitNOFILE, or docker --ulimit nofile=${need}) and run again`)
  return need
}

/** Polls `fn` every `every` ms until it returns truthy (resolves with it) or `ms` pass (resolves null). */
async function until (fn, ms, every = 20) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() >= deadline) return null
    await delay(every)
  }
}

/** Least-squares slope of ys over xs. */
function slope (xs, ys) {
  const n = xs.length
  if (n < 2) return 0
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my)
    den += (xs[i] - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const round = (x, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x)

const children = new Set()

function killAll () {
  for (const c of children) {
    try { process.kill(c.pid, 'SIGKILL') } catch {}
  }
  children.clear()
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll()
    process.stderr.write(`chaos: ${sig}, children killed\n`)
    process.exit(130)
  })
}

/**
 * Starts a role: `node chaos/roles/<role>.js args...` (with `ulimit -n` raised first when
 * `opts.nofile` is given). Its stdout JSON lines are kept; `wait(pred, ms)` takes the first line not
 * taken before that matches; `on(fn)` sees every line; `send(obj)` writes a JSON line to its stdin.
 */
function role (name, args = [], opts = {}) {
  const script = path.join(__dirname, 'roles', name + '.js')
  const argv = [...(opts.nodeArgs || []), script, ...args.map(String)]
  let child
  if (opts.nofile) {
    const cmd = `ulimit -n ${opts.nofile} 2>/dev/null || { echo "cannot raise ulimit -n to ${opts.nofile} (hard limit $(ulimit -Hn))" >&2; exit 97; }; exec "$0" "$@"`
    child = spawn('bash', ['-c', cmd, process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } })
  } else {
    child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } })
  }
  const tag = opts.tag || name
  const entry = { pid: child.pid, child, tag }
  children.add(entry)
  const lines = []
  const taken = new Set()
  let waiters = []
  const listeners = []
  let errTail = ''
  let partial = ''
  let exit = null
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    children.delete(entry)
    exit = { code, signal }
    resolve(exit)
    wake()
  }))
  function wake () {
    const w = waiters
    waiters = []
    for (const f of w) f()
  }
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    partial += chunk
    let nl
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      let obj
      try { obj = JSON.parse(line) } catch { continue }
      lines.push(obj)
      for (const f of listeners) f(obj)
    }
    wake()
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    errTail = (errTail + chunk).slice(-4000)
    if (process.env.CHAOS_VERBOSE) process.stderr.write(`  <${tag}> ${chunk}`)
  })
  child.stdin.on('error', () => {})
  function wait (pred = () => true, ms = 5000, what = 'a line') {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== check)
        reject(new Error(`${tag} (pid ${child.pid}): no ${what} within ${ms} ms; stderr: ${errTail.slice(-800)}`))
      }, ms)
      function check () {
        for (let i = 0; i < lines.length; i++) {
          if (!taken.has(i) && pred(lines[i])) {
            taken.add(i)
            clearTimeout(timer)
            return resolve(lines[i])
          }
        }
        if (exit) {
          clearTimeout(timer)
          return reject(new Error(`${tag} (pid ${child.pid}) exited (${JSON.stringify(exit)}) before ${what}; stderr: ${errTail.slice(-800)}`))
        }
        waiters.push(check)
      }
      check()
    })
  }
  function send (obj) {
    if (!exit) child.stdin.write(JSON.stringify(obj) + '\n')
  }
  /** Sends `{cmd, id}` and waits for `{event: cmd, id}`. */
  let seq = 0
  function ask (cmd, extra = {}, ms = 5000) {
    const id = ++seq
    send({ cmd, id, ...extra })
    return wait((m) => m.event === cmd && m.id === id, ms, `reply to ${cmd}`)
  }
  async function kill (signal = 'SIGTERM', ms = 3000) {
    if (!exit) {
      try { process.kill(child.pid, signal) } catch {}
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL') } catch {} }, ms)
      await exited
      clearTimeout(t)
    }
    return exit
  }
  return {
    pid: child.pid,
    tag,
    wait,
    ask,
    send,
    kill,
    exited,
    lines,
    on: (f) => listeners.push(f),
    stderr: () => errTail,
    alive: () => !exit,
    rss: () => rssMb(child.pid),
    mallocHeap: () => mallocHeapMb(child.pid),
    fds: () => fdCount(child.pid)
  }
}

/**
 * Runs a case: `body()` resolves with `{ held, figures, note }`; an exception is a row that did not
 * hold, with the reason. Prints the CHAOS line last and exits 0 (held) or 1.
 */
function runCase (caseNo, title, body, { limitMs } = {}) {
  const finish = (row) => {
    killAll()
    process.stdout.write('CHAOS ' + JSON.stringify({ case: String(caseNo), title, held: !!row.held, figures: row.figures || {}, note: row.note || '' }) + '\n')
    process.exitCode = row.held ? 0 : 1
    setTimeout(() => process.exit(process.exitCode), 200).unref()
  }
  const guard = limitMs && setTimeout(() => finish({ held: false, figures: {}, note: `case did not finish within ${limitMs / 1000} s` }), limitMs)
  if (guard) guard.unref()
  log(`case ${caseNo} (${title})${SHORT ? ' --short' : ''}`)
  Promise.resolve().then(body).then((row) => {
    if (guard) clearTimeout(guard)
    finish(row)
  }, (err) => {
    if (guard) clearTimeout(guard)
    log('failed:', err && err.stack ? err.stack : String(err))
    finish({ held: false, figures: {}, note: 'crashed: ' + String(err && err.message ? err.message : err).slice(0, 400) })
  })
}

/** Collects the failed checks of a case: `check(ok, text)`; `verdict()` says held and why not. */
function checks () {
  const failed = []
  return {
    check (ok, text) { if (!ok) failed.push(text); return ok },
    held: () => failed.length === 0,
    why: () => failed.join('; ')
  }
}

module.exports = { nofileHardLimit, needNofile, ROOT, SHORT, log, delay, freePort, rssMb, mallocHeapMb, fdCount, until, slope, round, role, runCase, checks, killAll }
