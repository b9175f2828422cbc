#!/usr/bin/env node
'use strict'
// Chaos case 4: kill -9 the elected bus master under a paced publish. Five bus nodes, each in its
// own network namespace on one bridge (default options: discovery by multicast on eth0), priorities
// 9, 7, 5, 1, 0; the two lowest publish paced sequences that everyone receives. The master is killed
// with SIGKILL (once in --short, three times in turn in the full run); each time the survivors must
// agree on the next master within heartbeat_period + election_timeout, and with resend_window every
// message of the surviving publishers must reach every surviving subscriber (duplicates allowed,
// counted).
//
//   node chaos/cases/04-bus-master-kill.js [--short]
const lib = require('./bus-lib')

const CASE = '4'
const TITLE = 'bus: kill -9 of the elected master under a paced publish (5 netns hosts)'
const FAST = { election_timeout: 300, heartbeat_period: 200, heartbeat_timeout: 800, resend_window: 250 }
const LIMIT_MS = FAST.heartbeat_period + FAST.election_timeout
const PRIORITIES = [9, 7, 5, 1, 0]
const PUBLISHERS = [3, 4]
const KILLS = lib.SHORT ? 1 : 3
const INTERVAL = 20
const PACED = lib.SHORT ? 150 : 600

lib.run(CASE, TITLE, main)

async function main () {
  const net = lib.lan(5, 'k')
  const group = { ...FAST, multicast_addr: '239.1.2.3', multicast_port: 45003 }
  const nodes = PRIORITIES.map((p, i) => lib.busNode({ ...group, election_priority: p }, net.names[i], { gated: true }))
  const ids = await lib.goAll(nodes)
  await Promise.all(nodes.map((n) => n.wait('ready', 10000)))
  for (const n of nodes) await n.wait('elected', 5000, (l) => l.id === ids[0])
  lib.log(`node 0 (${ids[0]}) elected by all five`)

  for (const n of nodes) n.send({ cmd: 'subscribe', channels: ['equity'] })
  await Promise.all(nodes.map((n) => n.wait('subscribed')))
  if (!(await lib.prime(nodes[PUBLISHERS[0]], nodes, 'equity')) || !(await lib.prime(nodes[PUBLISHERS[1]], nodes, 'equity'))) {
    throw new Error('the data path never carried a message to every node')
  }
  await lib.sleep(200)

  for (const i of PUBLISHERS) nodes[i].send({ cmd: 'pace', channel: 'equity', tag: `p${i}`, count: PACED, interval: INTERVAL })
  const span = PACED * INTERVAL
  const rounds = []
  for (let k = 0; k < KILLS; k++) {
    await lib.sleep(span / (KILLS + 2))
    rounds.push(await killMaster(nodes, ids, k))
  }
  await Promise.all(PUBLISHERS.map((i) => nodes[i].wait('paced', span + 10000)))
  const survivors = nodes.slice(KILLS)
  const { lost, duplicates } = await count(survivors)
  const reelect = rounds.map((r) => r.ms)
  const worst = Math.max(...reelect)
  const held = worst <= LIMIT_MS && lost === 0 && rounds.every((r) => r.agreed)
  const figures = {
    kills: KILLS,
    reelectionMs: reelect,
    worstReelectionMs: worst,
    limitMs: LIMIT_MS,
    published: PACED * PUBLISHERS.length,
    subscribers: survivors.length,
    lost,
    duplicates,
    resendWindowMs: FAST.resend_window
  }
  const note = `re-elected in ${reelect.join(', ')} ms after kill -9 (limit heartbeat_period + election_timeout = ${LIMIT_MS} ms); ` +
    `${PACED * PUBLISHERS.length} paced messages to ${survivors.length} subscribers: ${lost} lost, ${duplicates} duplicates (resend_window ${FAST.resend_window} ms)`
  return { case: CASE, title: TITLE, held, figures, note }
}

/** Kills node `k` (the master now) and waits for every survivor to elect node `k + 1`. */
async function killMaster (nodes, ids, k) {
  const killedAt = Date.now()
  await nodes[k].kill('SIGKILL')
  const survivors = nodes.slice(k + 1)
  const elected = await Promise.all(survivors.map((n) => n.wait('elected', 5000, (l) => l.id === ids[k + 1] && l.t >= killedAt).catch(() => null)))
  const agreed = elected.every(Boolean)
  const ms = agreed ? Math.max(...elected.map((e) => e.t)) - killedAt : Infinity
  lib.log(`kill -9 of node ${k}: node ${k + 1} elected by ${elected.filter(Boolean).length}/${survivors.length} after ${ms} ms`)
  return { agreed, ms }
}

/** Missing and duplicated sequence numbers of every publisher at every survivor. */
async function count (survivors) {
  let lost = 0
  let duplicates = 0
  for (const n of survivors) {
    for (const i of PUBLISHERS) {
      const tag = `p${i}`
      await lib.until(() => lib.seqs(n, tag).size === PACED, 3000)
      const got = n.lines.filter((l) => l.ev === 'message' && l.msg[1] === tag).length
      const distinct = lib.seqs(n, tag).size
      lost += PACED - distinct
      duplicates += got - distinct
    }
  }
  return { lost, duplicates }
}
