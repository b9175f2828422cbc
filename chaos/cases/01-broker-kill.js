'use strict'
// Case 1: kill -9 the broker under load and restart it on the same port. One worker process (echo
// after 200 ms, so the requests are really in flight), one client process keeping 1,000 requests in
// flight (--short: 100), every other one with `retry: 1`, all with a 5 s timeout.
// Held when: clients and workers are served again within 3 heartbeats of the restart, every `retry`
// request is answered exactly once, every other request is answered or fails with a code, no reply
// comes twice or to the wrong request, and nothing is still out when the load stops.
const { SHORT, log, delay, freePort, role, runCase, checks, round, until } = require('../lib')

const HEARTBEAT = 500
const INFLIGHT = SHORT ? 100 : 1000
const TIMEOUT = 5000
const WARM_MS = SHORT ? 2000 : 10000
// Long enough for the requests lost with the broker to time out and the load to run again.
const AFTER_MS = TIMEOUT + (SHORT ? 1500 : 10000)

runCase(1, 'kill -9 the broker under load, restart on the same port', async () => {
  const port = await freePort()
  const addr = `tcp://127.0.0.1:${port}`
  let broker = role('broker', ['--addr', addr, '--heartbeat', HEARTBEAT], { tag: 'broker' })
  await broker.wait((m) => m.event === 'started', 5000, 'started')
  const worker = role('worker', ['--addr', addr, '--name', 'w1', '--delay', 200, '--heartbeat', HEARTBEAT], { tag: 'worker' })
  await worker.wait((m) => m.event === 'connect', 5000, 'worker connect')
  const client = role('client', ['--addr', addr, '--inflight', INFLIGHT, '--retry', 0.5, '--timeout', TIMEOUT, '--heartbeat', HEARTBEAT], { tag: 'client' })
  await client.wait((m) => m.event === 'connect', 5000, 'client connect')
  log(`load: ${INFLIGHT} in flight, warming ${WARM_MS} ms`)
  await delay(WARM_MS)
  const before = await client.ask('stats')
  log(`before the kill: ${before.ok.retry + before.ok.plain} answered, ${before.outstanding} out`)

  const killedAt = Date.now()
  await broker.kill('SIGKILL')
  broker = role('broker', ['--addr', addr, '--heartbeat', HEARTBEAT], { tag: 'broker2' })
  const started = await broker.wait((m) => m.event === 'started', 10000, 'restart')
  const restartAt = started.at
  await client.ask('mark')
  log(`killed; restarted after ${restartAt - killedAt} ms`)
  const workerBack = await worker.wait((m) => m.event === 'connect' && m.at >= killedAt, 10000, 'worker reconnect').catch(() => null)
  // The client is back when a fresh request is answered (the load's own requests that were in the dead
  // broker wait for their timeout unless retried).
  const served = await until(async () => { const p = await client.ask('probe', { timeout: 250 }); return p.ok && p }, 10000, 10)
  const clientRecoveryMs = served ? served.at - restartAt : null
  const workerRecoveryMs = workerBack ? workerBack.at - restartAt : null
  log(`client served again ${clientRecoveryMs} ms after the restart; worker registered ${workerRecoveryMs} ms after`)
  await delay(AFTER_MS)
  const end = await client.ask('stop', { ms: TIMEOUT + 3000 }, TIMEOUT + 6000)
  const failedPlain = Object.values(end.failed.plain).reduce((x, y) => x + y, 0)
  const failedRetry = Object.values(end.failed.retry).reduce((x, y) => x + y, 0)
  const codes = { ...end.failed.plain }
  for (const [k, v] of Object.entries(end.failed.retry)) codes['retry:' + k] = v
  const noCode = Object.keys(end.failed.plain).concat(Object.keys(end.failed.retry)).filter((k) => !/^[A-Z][A-Z_]+$/.test(k))

  const c = checks()
  c.check(clientRecoveryMs !== null && clientRecoveryMs <= 3 * HEARTBEAT, `client served again after ${clientRecoveryMs} ms (limit ${3 * HEARTBEAT})`)
  c.check(workerRecoveryMs !== null && workerRecoveryMs <= 3 * HEARTBEAT, `worker registered again after ${workerRecoveryMs} ms (limit ${3 * HEARTBEAT})`)
  c.check(failedRetry === 0, `${failedRetry} retry requests not answered (${JSON.stringify(end.failed.retry)})`)
  c.check(end.duplicates === 0, `${end.duplicates} duplicate replies`)
  c.check(end.misrouted === 0, `${end.misrouted} misrouted replies`)
  c.check(end.hung === 0, `${end.hung} requests hung`)
  c.check(noCode.length === 0, `failures without a code: ${noCode.join(',')}`)
  return {
    held: c.held(),
    figures: {
      inFlight: INFLIGHT,
      restartMs: restartAt - killedAt,
      clientRecoveryMs,
      firstLoadReplyMs: end.firstOkAfterMark ? end.firstOkAfterMark - restartAt : null,
      workerRecoveryMs,
      retryAnsweredOnce: end.ok.retry,
      retryFailed: failedRetry,
      plainAnswered: end.ok.plain,
      failedWithCode: failedPlain + failedRetry - noCode.length,
      failureCodes: codes,
      duplicates: end.duplicates,
      late: end.late,
      hung: end.hung
    },
    note: c.held() ? `heartbeat ${HEARTBEAT} ms; recovery measured from the restart` : c.why()
  }
}, { limitMs: (SHORT ? 40 : 90) * 1000 })
