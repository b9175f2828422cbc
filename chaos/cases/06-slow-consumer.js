'use strict'
// Case 6: a slow consumer. A producer process sends numbered 100-byte messages at 5,000/s for 60 s
// (--short: 5 s) to a consumer process whose JS handler takes 2 ms a message (10x slower), on the
// bus (two createNode processes on a loopback cluster), on PUB/SUB and on PUSH/PULL (zmq sockets).
// Then the producer stops, the handler becomes fast, and the consumer drains what is left.
// Held when every process stays under 200 MB RSS throughout; PUSH/PULL loses nothing (the pipe
// pushes back: the producer cannot run ahead without bound); on the bus and on SUB, where the
// pattern allows drops, the holes in the numbering are reported with the drops the library counted.
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
      row.droppedCountedConsumer = end.dropped
      row.droppedCountedProducer = pstats.node.dropped.total
      row.forwarder = pstats.node.isMaster ? pstats.node.forwarder : '(consumer is master)'
    }
    if (name === 'sub') row.pubStats = pstats.sock
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

runCase(6, 'slow consumer (10x slower handler) on the bus, SUB and PULL', async () => {
  const c = checks()
  const figures = {}
  for (const name of ['bus', 'sub', 'pull']) await pattern(name, c, figures)
  return { held: c.held(), figures, note: c.held() ? `${RATE} msg/s produced, ${COST_MS} ms per message in the handler, ${RUN_MS / 1000} s; holes = messages the consumer never saw` : c.why() }
}, { limitMs: (SHORT ? 90 : 600) * 1000 })
