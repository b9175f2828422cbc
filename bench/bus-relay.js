'use strict'
// `node bench/bus-relay.js [N] [SUBS]`: the bus forwarder's relay. An idle master (its forwarder relays
// everything), one publisher node, SUBS subscriber nodes, all on loopback (multicast_interface 127.0.0.1). Reports delivered msgs/s per
// subscriber and the master process's CPU (utime+stime from /proc) per relayed message.
// (bench/bus.js makes the publisher the master, so its messages take the forwarder's local input; here they
// cross the master's SUB side.) Bounded: every wait has a limit; aborts after 150 s.
const fs = require('node:fs')

const N = Number(process.argv[2] || 1000000)
const SUBS = Number(process.argv[3] || 1)
const { spawnChild, killAll } = require('./lib/bus-children')
const FAST = { election_timeout: 250, heartbeat_period: 200, heartbeat_timeout: 600 }
const TICK = 100 // USER_HZ
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))


function cpuTicks (pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(f[11]) + Number(f[12]) // utime, stime (fields 14, 15)
}

async function count (sub) {
  sub.send({ cmd: 'count' })
  return sub.wait('count', 5000, () => true, true)
}

async function main () {
  const timer = setTimeout(() => { console.error('relay bench: over 150 s, aborting'); killAll(); process.exit(2) }, 150000)
  const rnd = (n) => Math.floor(Math.random() * n)
  const g = { multicast_addr: `239.255.${1 + rnd(250)}.${1 + rnd(250)}`, multicast_port: 20000 + rnd(40000) }
  const master = spawnChild('ours-idle', { node: { ...g, ...FAST, election_priority: 9 } })
  const pub = spawnChild('ours-pub', { node: { ...g, ...FAST, election_priority: 5, publish_buffer: 2000000 } })
  const subs = []
  for (let i = 0; i < SUBS; i++) subs.push(spawnChild('ours-sub', { node: { ...g, ...FAST, election_priority: 0 } }))
  try {
    await Promise.all([master, pub, ...subs].map((c) => c.wait('ready')))
    const masterId = (await master.wait('elected', 5000, (l) => l.isMe)).id
    await Promise.all([pub, ...subs].map((c) => c.wait('elected', 5000, (l) => l.id === masterId)))
    for (const s of subs) s.send({ cmd: 'subscribe', channel: 'equity' })
    for (let i = 0; i < 200; i++) {
      pub.send({ cmd: 'warm' })
      const cs = await Promise.all(subs.map(count))
      if (cs.every((c) => c.count > 0)) break
      await sleep(25)
    }
    await sleep(300)
    for (const s of subs) { s.send({ cmd: 'reset' }); await s.wait('reset', 2000, () => true, true) }
    const cpu0 = cpuTicks(master.proc.pid)
    pub.send({ cmd: 'run', n: N, rate: 0 })
    const published = await pub.wait('published', 60000, () => true, true)
    let cs = subs.map(() => ({ count: -1 }))
    for (let quiet = 0; quiet < 3;) {
      await sleep(200)
      const next = await Promise.all(subs.map(count))
      quiet = next.every((c, i) => c.count === cs[i].count) ? quiet + 1 : 0
      cs = next
      if (cs.every((c) => c.count >= N)) break
    }
    const cpu1 = cpuTicks(master.proc.pid)
    const delivered = cs.reduce((a, c) => a + c.count, 0)
    const last = Math.max(...cs.map((c) => c.last))
    const res = {
      n: N,
      subs: SUBS,
      delivered,
      lossPct: +(100 * (N * SUBS - delivered) / (N * SUBS)).toFixed(2),
      rate: Math.round(delivered / ((last - published.t0) / 1000)),
      masterCpuS: (cpu1 - cpu0) / TICK,
      masterUsPerMsg: +(1e6 * (cpu1 - cpu0) / TICK / N).toFixed(3),
      load: fs.readFileSync('/proc/loadavg', 'utf8').trim()
    }
    console.log(JSON.stringify(res))
  } finally {
    killAll()
    clearTimeout(timer)
  }
}
main().catch((e) => { console.error(e); killAll(); process.exit(1) })
