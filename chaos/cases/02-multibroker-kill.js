'use strict'
// Chaos case 2 (issue 14): kill -9 one of two brokers under load, with multi-broker peers. A worker
// process registered with both brokers, this process as a client of both, each request with `retry: 1`,
// a window of requests kept in flight (1,000 full, 200 --short). Held when no request is lost, fails or
// is answered twice, and the load goes on through the surviving broker.
//   node chaos/cases/02-multibroker-kill.js [--short]
// Child role (spawned by the case): --role worker <brokerA> <brokerB>
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const SHORT = process.argv.includes('--short')

const TITLE = 'kill -9 one of two brokers under load, multi-broker peers'

function log (...args) { process.stderr.write(`[case 2] ${args.join(' ')}\n`) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The worker process: serves 'chaos' on both brokers, answering each request with its data after 20 ms. */
function worker (brokers) {
  const { Worker } = require(ROOT)
  const w = new Worker(brokers, 'chaos', { concurrency: -1 })
  w.on('request', (inp, reply) => setTimeout(() => reply.end(inp), 20))
  let ready = 0
  w.on('connect', () => { if (++ready === brokers.length) console.log(JSON.stringify({ event: 'ready' })) })
  w.start()
  process.stdin.on('end', () => { w.stop(); setTimeout(() => process.exit(0), 50) })
  process.stdin.resume()
}

async function main (spawnNode, freePort, procs) {
  const { Client } = require(ROOT)
  const addrs = [`tcp://127.0.0.1:${await freePort()}`, `tcp://127.0.0.1:${await freePort()}`]
  const brokers = []
  for (const addr of addrs) {
    const b = spawnNode(path.join(ROOT, 'bench', 'peers', 'pigato-broker.js'), ['--impl', 'zmqbus', '--addr', addr, '--intch', `tcp://127.0.0.1:${await freePort()}`])
    procs.push(b)
    brokers.push(b)
    await b.waitJson((m) => m.event === 'ready', 10000)
  }
  const w = spawnNode(__filename, ['--role', 'worker', ...addrs])
  procs.push(w)
  await w.waitJson((m) => m.event === 'ready', 10000)
  const client = new Client(addrs, { retry: 1, timeout: 15000 })
  client.start()
  const up = Date.now()
  while (!client.members.every((m) => m._up) && Date.now() - up < 5000) await sleep(10)

  const inflight = SHORT ? 200 : 1000
  const seconds = SHORT ? 3 : 10
  const seen = new Map()
  let issued = 0
  let failed = 0
  let stopIssuing = false
  let killAt = 0
  let firstAfterKill = 0
  const ended = new Set()
  const lane = () => new Promise((resolve) => {
    const next = () => {
      if (stopIssuing) return resolve()
      const i = issued++
      client.request('chaos', i, undefined, (err, data) => {
        if (err) failed++
        else seen.set(data, (seen.get(data) || 0) + 1)
        ended.add(i)
        if (killAt && !firstAfterKill && !err) firstAfterKill = Date.now() - killAt
        next()
      }, { timeout: 15000 })
    }
    next()
  })
  const lanes = Array.from({ length: inflight }, lane)
  await sleep((seconds * 1000) / 2)
  log(`killing broker ${addrs[0]} with ${issued - ended.size} in flight`)
  killAt = Date.now()
  await brokers[0].kill('SIGKILL')
  const beforeKill = ended.size
  await sleep((seconds * 1000) / 2)
  stopIssuing = true
  const drained = await Promise.race([Promise.all(lanes).then(() => true), sleep(20000).then(() => false)])
  const answered = seen.size
  const duplicates = [...seen.values()].filter((n) => n > 1).length
  const hung = issued - ended.size
  client.stop()
  const figures = {
    issued,
    answered,
    failed,
    lost: issued - answered - failed - hung,
    duplicates,
    hung,
    'answered after the kill': ended.size - beforeKill,
    'first reply after the kill (ms)': firstAfterKill,
    'req/s': Math.round(issued / seconds)
  }
  const held = drained && failed === 0 && hung === 0 && duplicates === 0 && answered === issued &&
    ended.size - beforeKill > inflight
  return { case: '2', title: TITLE, held, figures, note: `${inflight} in flight for ${seconds} s; retry: 1` }
}

function finish (result) {
  process.stdout.write('CHAOS ' + JSON.stringify(result) + '\n')
  process.exitCode = result.held ? 0 : 1
  setTimeout(() => process.exit(process.exitCode), 50).unref()
}

if (process.argv[2] === '--role') {
  worker(process.argv.slice(4))
} else {
  const { spawnNode, freePort } = require(path.join(ROOT, '__test__', 'helpers'))
  const procs = []
  const cleanup = () => { for (const p of procs) { try { p.proc.kill('SIGKILL') } catch {} } }
  process.on('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130) })
  main(spawnNode, freePort, procs).then(finish, (err) => {
    log('failed:', err && err.stack)
    finish({ case: '2', title: TITLE, held: false, figures: {}, note: `error: ${err && err.message}` })
  })
}
