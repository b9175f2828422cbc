'use strict'
// `npm run demo:busmq` (examples/demo-busmq.js) and `npm run bench:busmq` (bench/busmq.js) run to
// the end: the demo with a redis-server of its own, and with none on PATH (it says how to get
// one); the bench with tiny counts, every implementation losing nothing.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { execFile } = require('node:child_process')

const ROOT = path.join(__dirname, '..')

function run (args, env, ms) {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: ms }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

test('the demo shows a queue and a channel on a redis-server it starts and stops', async () => {
  const env = { ...process.env }
  delete env.REDIS_URL
  const r = await run([path.join('examples', 'demo-busmq.js')], env, 30000)
  assert.equal(r.code, 0, r.stderr)
  const port = /private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(r.stdout)?.[1]
  assert.ok(port, r.stdout)
  for (const line of ['queue: message 1: hello', 'queue: message 2: {"task":"resize","width":640}', 'queue: message 3: 42',
    'channel: server got "hi server"', 'channel: client got "hi client"', 'demo done']) {
    assert.ok(r.stdout.includes(line), `missing "${line}" in:\n${r.stdout}`)
  }
})

test('without redis-server on PATH the demo says how to get one and exits 1', async () => {
  // A PATH with node only.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zmqbus-nopath-'))
  try {
    fs.symlinkSync(process.execPath, path.join(dir, 'node'))
    const env = { ...process.env, PATH: dir }
    delete env.REDIS_URL
    const r = await run([path.join('examples', 'demo-busmq.js')], env, 15000)
    assert.equal(r.code, 1)
    assert.match(r.stdout, /needs Redis/)
    assert.match(r.stdout, /apt-get install redis-server/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the bench runs ours, busmq and BullMQ on one redis-server and loses nothing', async () => {
  const r = await run([path.join('bench', 'busmq.js'), '--n', '2000', '--latency', '50'], process.env, 240000)
  assert.equal(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout.trim().split('\n').pop())
  for (const impl of ['ours', 'busmq', 'bullmq']) {
    const res = json.results[impl]
    assert.equal(res.failed, undefined, `${impl}: ${res.failed}`)
    assert.equal(res.lost, 0, impl)
    assert.ok(res.msgs_per_s > 0 && res.p50_us > 0 && res.producer_rss_mb > 0, JSON.stringify(res))
    // 10 queues in parallel (10 producers, 10 consumers), nothing lost either.
    assert.equal(res.par_lost, 0, impl)
    assert.ok(res.par_msgs_per_s > 0, JSON.stringify(res))
  }
  for (const impl of ['ours', 'busmq']) {
    const res = json.results[impl]
    assert.ok(res.ch_p50_us > 0 && res.ch_p99_us >= res.ch_p50_us, JSON.stringify(res))
  }
  assert.equal(json.results.bullmq.ch_p50_us, 'n/a')
  assert.match(r.stdout, /ours vs busmq/)
  assert.match(r.stdout, /msgs\/s \(10 queues, 10\+10 in parallel\)/)
  assert.match(r.stdout, /channel round trip p50 µs/)
  assert.match(r.stdout, /BullMQ has no channels/)
})
