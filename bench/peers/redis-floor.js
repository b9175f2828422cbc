'use strict'
// The floor under `bench/busmq-latency.js`, in plain Node `net` on the same redis-server: one
// connection waits in `BLMPOP` while another `RPUSH`es one element, one in flight; the time from
// the RPUSH to the BLMPOP's answer is what any push-to-message design pays at least (two sockets,
// one Redis wake-up, one wake-up of this process). Prints one JSON `result` line.
// With --script the push is our push script (`EVALSHA`, busmq's keys; it also PUBLISHes the id),
// with --subscribe a third connection listens on the queue's `available` channel meanwhile.
//   --url redis://127.0.0.1:port --n count --warmup count [--script] [--subscribe]
const net = require('node:net')
const { parseArgs, printJson, percentile } = require('./common')

const args = parseArgs(undefined, { url: '', n: 3000, warmup: 200, script: false, subscribe: false })
const { hostname, port } = new URL(args.url)
const prefix = `bus:queue:floor-${process.pid}-${Date.now()}`
const key = args.script ? `${prefix}:messages` : `floor:${process.pid}:${Date.now()}`
const PUSH = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', 'src', 'busmq', 'scripts.rs'), 'utf8')
  .split('pub const PUSH: &str = r"')[1].split('";')[0]
const SHA = require('node:crypto').createHash('sha1').update(PUSH).digest('hex')

function command (...parts) {
  return `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(String(p))}\r\n${p}\r\n`).join('')
}

function connect () {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => resolve(s))
    s.setNoDelay(true)
    s.once('error', reject)
  })
}

async function main () {
  const [popper, pusher] = [await connect(), await connect()]
  if (args.subscribe) {
    const sub = await connect()
    sub.on('data', () => {})
    sub.write(command('SUBSCRIBE', `${prefix}:available`))
  }
  const push = (m) => args.script
    ? command('EVALSHA', SHA, 4, `${prefix}:metadata`, key, `${prefix}:msgid`, `${prefix}:toack`, 600, `${prefix}:available`, 0, m)
    : command('RPUSH', key, m)
  pusher.on('data', () => {}) // push replies, not waited for
  if (args.script) pusher.write(command('SCRIPT', 'LOAD', PUSH))
  const samples = []
  let t0 = 0n
  let i = 0
  const next = () => {
    if (i === args.warmup + args.n) {
      samples.sort((a, b) => a - b)
      printJson({ event: 'result', n: samples.length, p50_us: Math.round(percentile(samples, 50)), p99_us: Math.round(percentile(samples, 99)) })
      popper.destroy()
      pusher.destroy()
      return
    }
    t0 = process.hrtime.bigint()
    pusher.write(push('m' + i))
  }
  let pending = ''
  popper.on('data', (d) => {
    pending += d
    // One answer per pop: `*2` key array; a complete one ends with the element's line.
    if (!pending.endsWith(`m${i}\r\n`)) return
    pending = ''
    if (i >= args.warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1000)
    i++
    popper.write(command('BLMPOP', 5, 1, key, 'LEFT', 'COUNT', 2))
    next()
  })
  popper.write(command('BLMPOP', 5, 1, key, 'LEFT', 'COUNT', 2))
  setTimeout(next, 50)
}

main().catch((err) => { printJson({ event: 'error', error: String(err) }); process.exit(2) })
