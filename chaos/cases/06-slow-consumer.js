'use strict'
// Case 6: a slow consumer. A producer process sends numbered 100-byte messages at 5,000/s for 60 s
// (--short: 5 s) to a consumer process whose JS handler takes 2 ms a message (10x slower), on the
// bus (two createNode processes on a loopback cluster), on PUB/SUB and on PUSH/PULL (zmq sockets),
// and with MDP (a client sending requests at that rate to a worker of pigato's default concurrency).
// Then the producer stops, the handler becomes fast, and the consumer drains what is left.
// Held when every process stays under 200 MB RSS throughout; PUSH/PULL loses nothing (the pipe
// pushes back: the producer cannot run ahead without bound); on the bus and on SUB, where the
// pattern allows drops, the holes in the numbering are reported with the drops the library counted;
// MDP answers every request or fails it with a code, nothing hangs.
const { SHORT, log, delay, freePort, role, runCase, checks, until, round } = require('../lib')

const RATE = 5000
const COST_MS = 2
const RUN_MS = SHORT ? 5000 : 60000
const RSS_LIMIT = 200

function busOpts () {
  const r = (n) => Math.floor(Math.random() * n)
  return { multicast_interface: '127.0.0.1', multicast_addr: `239.255.${1 + r(250)}.${1 + r(250)}`, multicast_port: 20000 + r(40000), election_timeout: 200, heartbeat_period: 100, heartbeat_timeout: 500 }
}

async function pattern (name, c, figures) {
  const common = ['--pattern', name, '--rate', RATE, '--cost', COST_MS, '--slow-ms', RUN_MS]
  let extra
  if (name === 'bus') extra = ['--bus', JSON.stringify(busOpts())]
  else extra = ['--addr', `tcp://127.0.0.1:${await freePort()}`]
  const producer = role('slow', [...common, ...extra, '--side', 'producer'], { tag: `${name}-producer` })
  await producer.wait((m) => m.event === 'ready', 10000, 'ready')
  const consumer = role('slow', [...common, ...extra, '--side', 'consumer'], { tag: `${name}-consumer` })
  await consumer.wait((m) => m.event === 'ready', 10000, 'ready')
  await delay(name === 'bus' ? 1500 : 500) // subscriptions and connections settle
  let peakP = producer.rss()
  let peakC = consumer.rss()
  let latest = null
  consumer.on((m) => { if (m.event === 'progress') latest = m })
  const sampler = setInterval(() => { peakP = Math.max(peakP, producer.rss()); peakC = Math.max(peakC, consumer.rss()) }, 250)
  try {
    await producer.ask('start')
    log(`${name}: producing ${RATE}/s for ${RUN_MS / 1000} s, handler ${COST_MS} ms a message`)
    await delay(RUN_MS)
    const stop = await producer.ask('stop', {}, 20000)
    const during = latest || { received: 0 }
    // Drain: the consumer's slow phase has ended and its count stopped moving for a second (bounded).
    let prev = -1
    const end = await until(async () => {
      const s = latest
      if (s && !s.slow && s.received === prev && (name !== 'pull' || s.last === stop.sent)) return s
      prev = s ? s.received : -1
      await delay(1000)
      return null
    }, 90000, 0)
    const pstats = await producer.ask('stats', {}, 20000)
    if (!end) throw new Error(`${name}: the consumer never drained (last report ${JSON.stringify(latest)})`)
    const lost = stop.sent - (end.first - 1) - end.received
    const row = {
      sent: stop.sent,
      consumedWhileSlow: during.received,
      delivered: end.received,
      holes: end.holes + Math.max(0, stop.sent - end.last),
      producerRssPeakMb: round(peakP),
      consumerRssPeakMb: round(peakC),
      handlerStallMs: end.maxTickGapMs
    }
    if (name === 'bus') {
      // Drops the library counted: the consumer node's and the producer node's bounded buffers, and
      // the forwarder's queue for a slow subscriber (on the master, here the producer's node).
      row.droppedCounted = end.dropped + pstats.node.dropped.total + (pstats.node.isMaster ? pstats.node.forwarder.droppedFull || 0 : 0)
      if (!pstats.node.isMaster) row.note = 'the consumer node was the master: its forwarder drops are not read'
    }
    figures[name] = row
    log(`${name}: ${JSON.stringify(row)}`)
    c.check(peakP < RSS_LIMIT && peakC < RSS_LIMIT, `${name}: RSS peaked at ${round(peakP)} MB (producer) / ${round(peakC)} MB (consumer), limit ${RSS_LIMIT}`)
    c.check(end.disorder === 0, `${name}: ${end.disorder} messages out of order`)
    c.check(during.received < stop.sent, `${name}: the consumer was not slower than the producer`)
    if (name === 'pull') c.check(lost === 0 && end.holes === 0, `${name}: ${lost} messages lost on PUSH/PULL (${end.holes} holes)`)
  } finally {
    clearInterval(sampler)
    await Promise.all([producer.kill(), consumer.kill()])
  }
}

/** MDP: a client sending at RATE/s (paced, not windowed) to a worker whose handler takes COST_MS. */
async function mdp (c, figures) {
  const addr = `tcp://127.0.0.1:${await freePort()}`
  const broker = role('broker', ['--addr', addr, '--heartbeat', 500], { tag: 'mdp-broker' })
  await broker.wait((m) => m.event === 'started', 5000, 'started')
  const worker = role('worker', ['--addr', addr, '--cost', COST_MS, '--slow-ms', RUN_MS, '--concurrency', 100, '--heartbeat', 500], { tag: 'mdp-worker' })
  await worker.wait((m) => m.event === 'connect', 5000, 'worker connect')
  const client = role('client', ['--addr', addr, '--rate', RATE, '--retry', 0, '--timeout', 60000, '--heartbeat', 500, '--wait'], { tag: 'mdp-client' })
  await client.wait((m) => m.event === 'connect', 5000, 'client connect')
  const peak = { broker: broker.rss(), client: client.rss(), worker: worker.rss() }
  let queuedPeak = 0
  const sampler = setInterval(() => { for (const [k, r] of Object.entries({ broker, client, worker })) peak[k] = Math.max(peak[k], r.rss()) }, 250)
  try {
    await client.ask('go')
    log(`mdp: requests at ${RATE}/s for ${RUN_MS / 1000} s, handler ${COST_MS} ms a request`)
    const t0 = Date.now()
    while (Date.now() - t0 < RUN_MS) {
      queuedPeak = Math.max(queuedPeak, (await broker.ask('stats')).stats.queued)
      await delay(250)
    }
    const end = await client.ask('stop', { ms: 75000 }, 80000)
    const failed = Object.values(end.failed.plain).reduce((x, y) => x + y, 0)
    const noCode = Object.keys(end.failed.plain).filter((k) => !/^[A-Z][A-Z_]+$/.test(k))
    const row = {
      sent: end.sent,
      answered: end.ok.plain,
      failed: end.failed.plain,
      hung: end.hung,
      brokerQueuedPeak: queuedPeak,
      brokerRssPeakMb: round(peak.broker),
      clientRssPeakMb: round(peak.client),
      workerRssPeakMb: round(peak.worker)
    }
    figures.mdp = row
    log(`mdp: ${JSON.stringify(row)}`)
    for (const [k, v] of Object.entries(peak)) c.check(v < RSS_LIMIT, `mdp: ${k} RSS peaked at ${round(v)} MB (limit ${RSS_LIMIT})`)
    c.check(end.hung === 0, `mdp: ${end.hung} requests hung`)
    c.check(noCode.length === 0, `mdp: failures without a code: ${noCode.join(',')}`)
    c.check(end.ok.plain + failed === end.sent, `mdp: ${end.sent} sent, ${end.ok.plain} answered, ${failed} failed`)
    c.check(end.duplicates === 0 && end.misrouted === 0, `mdp: ${end.duplicates} duplicates, ${end.misrouted} misrouted`)
  } finally {
    clearInterval(sampler)
    await Promise.all([client.kill(), worker.kill(), broker.kill()])
  }
}

runCase(6, 'slow consumer (10x slower handler) on the bus, SUB, PULL and MDP', async () => {
  const c = checks()
  const figures = {}
  for (const name of ['bus', 'sub', 'pull']) await pattern(name, c, figures)
  await mdp(c, figures)
  return { held: c.held(), figures, note: c.held() ? `${RATE} msg/s produced, ${COST_MS} ms per message in the handler, ${RUN_MS / 1000} s; holes = messages the consumer never saw` : c.why() }
}, { limitMs: (SHORT ? 90 : 600) * 1000 })
