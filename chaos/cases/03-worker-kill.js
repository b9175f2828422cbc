'use strict'
// Case 3: kill -9 one of two workers mid-request. One client process keeps 1,000 requests in flight
// (--short: 100), all with `retry: 1`; both workers answer after 200 ms, so about half the requests
// are held by the worker that dies. Held when none is lost (every one answered), none is answered
// twice or to the wrong request, and nothing is still out at the end. Failover time: from the kill
// until every request out at the kill has been answered (that includes the survivor's 200 ms).
const { SHORT, log, delay, freePort, role, runCase, checks, until } = require('../lib')

const HEARTBEAT = 500
const INFLIGHT = SHORT ? 100 : 1000
const TIMEOUT = 10000
const WORK_MS = 200
const WARM_MS = SHORT ? 1500 : 5000
const AFTER_MS = SHORT ? 1500 : 5000

runCase(3, 'kill -9 one of two workers mid-request (retry)', async () => {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const broker = role('broker', ['--addr', addr, '--heartbeat', HEARTBEAT], { tag: 'broker' })
  await broker.wait((m) => m.event === 'started', 5000, 'started')
  const w1 = role('worker', ['--addr', addr, '--name', 'w1', '--delay', WORK_MS, '--heartbeat', HEARTBEAT], { tag: 'w1' })
  const w2 = role('worker', ['--addr', addr, '--name', 'w2', '--delay', WORK_MS, '--heartbeat', HEARTBEAT], { tag: 'w2' })
  await Promise.all([w1, w2].map((w) => w.wait((m) => m.event === 'connect', 5000, 'connect')))
  const client = role('client', ['--addr', addr, '--inflight', INFLIGHT, '--retry', 1, '--timeout', TIMEOUT, '--heartbeat', HEARTBEAT], { tag: 'client' })
  await client.wait((m) => m.event === 'connect', 5000, 'client connect')
  await delay(WARM_MS)
  const held = (await w1.ask('stats')).reqs
  const mark = await client.ask('mark')
  const killedAt = Date.now()
  await w1.kill('SIGKILL')
  log(`killed w1 holding ${held} requests; ${mark.out} out at the kill`)
  const drained = await until(async () => { const s = await client.ask('stats'); return s.markDrainedAt && s }, TIMEOUT + 2000, 20)
  const failoverMs = drained ? drained.markDrainedAt - killedAt : null
  log(`every request out at the kill settled ${failoverMs} ms after it`)
  await delay(AFTER_MS)
  const end = await client.ask('stop', { ms: TIMEOUT + 2000 }, TIMEOUT + 5000)
  const bstats = (await broker.ask('stats')).stats
  const lost = Object.values(end.failed.retry).reduce((x, y) => x + y, 0) + Object.values(end.failed.plain).reduce((x, y) => x + y, 0)
  const c = checks()
  c.check(held > 0, 'the killed worker held no request')
  c.check(failoverMs !== null, 'the requests out at the kill never all settled')
  c.check(lost === 0, `${lost} lost (${JSON.stringify(end.failed.retry)})`)
  c.check(end.duplicates === 0, `${end.duplicates} answered twice`)
  c.check(end.misrouted === 0, `${end.misrouted} misrouted`)
  c.check(end.hung === 0, `${end.hung} hung`)
  return {
    held: c.held(),
    figures: {
      inFlight: INFLIGHT,
      heldByKilled: held,
      failoverMs,
      requeued: bstats.requeued,
      answered: end.ok.retry + end.ok.plain,
      lost,
      answeredTwice: end.duplicates,
      hung: end.hung
    },
    note: c.held() ? `failover = kill until every request out at the kill was answered (workers take ${WORK_MS} ms each)` : c.why()
  }
}, { limitMs: (SHORT ? 40 : 90) * 1000 })
