'use strict'
// What the bus chaos cases (04, 05) share: `--short`, progress on stderr, throwaway network
// namespaces (the bus tests' helpers: a bridge in a hub namespace, nothing reaches a real
// interface), node processes (the bus tests' fixture) that are all killed and the namespaces
// deleted on exit, on failure and on SIGINT/SIGTERM, bounded waits, and the CHAOS result line.
//
// A case prints progress to stderr and, as its last stdout line, `CHAOS {json}`; exit 0 when held.
const path = require('node:path')
const helpers = require('../../__test__/bus-helpers')

const ROOT = path.join(__dirname, '..', '..')
const SHORT = process.argv.includes('--short')
const T0 = Date.now()

function log (...args) {
  process.stderr.write(`[${((Date.now() - T0) / 1000).toFixed(1)}s] ${args.join(' ')}\n`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `fn` every 20 ms until it returns truthy (resolves with it) or `ms` pass (resolves null). */
async function until (fn, ms) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() >= deadline) return null
    await sleep(20)
  }
}

const procs = new Set()
const nets = new Set()

/** Kills every process we started (by its own PID) and deletes every namespace we made. */
function cleanup () {
  for (const p of procs) {
    try { p.proc.kill('SIGKILL') } catch {}
  }
  procs.clear()
  for (const n of nets) n.cleanup()
  nets.clear()
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup()
    process.stderr.write(`chaos: ${sig}, children killed, namespaces deleted\n`)
    process.exit(130)
  })
}

/** `count` namespaces on one bridge (names carry our PID); deleted by `cleanup()`. */
function lan (count, tag) {
  if (!helpers.canNetns()) throw new Error('this case needs root and iproute2 (network namespaces)')
  const net = helpers.createNetns(count, tag)
  nets.add(net)
  return net
}

/** A bus node (createNode in __test__/fixtures/bus-node.js) in namespace `netns`, on its eth0. */
function busNode (opts, netns, { gated = false, env = {} } = {}) {
  const child = new helpers.Child(opts, {
    netns,
    gated,
    // The namespace's default interface; no key from our own environment unless given.
    env: { ZMQBUS_MULTICAST_INTERFACE: '', ZMQBUS_CLUSTER_KEY: '', ...env }
  })
  procs.add(child)
  child.exited.then(() => procs.delete(child))
  return child
}

/** Registers a process we spawned ourselves (killed on cleanup). */
function own (child) {
  procs.add(child)
  child.proc.once('exit', () => procs.delete(child))
  return child
}

/** Starts `nodes` (gated children) at the same moment and resolves with their ids. */
async function goAll (nodes) {
  await Promise.all(nodes.map((n) => n.wait('loaded', 15000)))
  for (const n of nodes) n.send({ cmd: 'go' })
  return Promise.all(nodes.map((n) => n.wait('started', 10000).then((l) => l.id)))
}

let statusSeq = 0
/** The node's `status` line (master, stats()), or null when it does not answer within 3 s. */
function status (node) {
  const tag = ++statusSeq
  node.send({ cmd: 'status', tag })
  return node.wait('status', 3000, (l) => l.tag === tag).catch(() => null)
}

/** Sequence numbers received by `node` for publisher `tag`. */
function seqs (node, tag) {
  return new Set(node.lines.filter((l) => l.ev === 'message' && l.msg[1] === tag).map((l) => l.msg[2]))
}

/** Publishes `[channel, 'probe', k]` from `from` until every node of `to` received one. */
async function prime (from, to, channel) {
  for (let k = 0; k < 200; k++) {
    from.send({ cmd: 'publish', args: [channel, 'probe', String(k)] })
    await sleep(30)
    if (to.every((n) => n.lines.some((l) => l.ev === 'message' && l.msg[0] === channel))) return true
  }
  return false
}

/** Prints the CHAOS line last and exits: 0 when held. */
function finish (result) {
  cleanup()
  process.stdout.write('CHAOS ' + JSON.stringify(result) + '\n')
  process.exitCode = result.held ? 0 : 1
  setTimeout(() => process.exit(process.exitCode), 50).unref()
}

/** Runs `main` and turns an exception into a CHAOS line that did not hold. */
function run (number, title, main) {
  main().then(finish, (err) => {
    log('failed:', err && err.stack)
    finish({ case: number, title, held: false, figures: {}, note: `error: ${err && err.message}` })
  })
}

module.exports = { ROOT, SHORT, log, sleep, until, lan, busNode, own, goAll, status, seqs, prime, finish, run, cleanup }
