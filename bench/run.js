#!/usr/bin/env node
'use strict'
// `npm run bench`: every scenario against every peer, each repetition in fresh
// processes over tcp on 127.0.0.1, then bench/results/<date>.json, a Markdown
// table (.md) and an SVG chart (.svg) beside it.
//
//   node bench/run.js [--quick] [--only name[,name]] [--peers p[,p]] [--reps N] [--set k=v]
//
// --quick runs small counts once each (a smoke test, under a minute); the
// default runs the full counts 3 times. --set overrides one count of the
// config (bench/lib/scenarios.js CONFIG), e.g. --set memN=20000; a run with
// --set records it in its JSON. Servers (nats-server, redis-server)
// are installed when missing, started on free ports, and stopped by PID.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { scenarios, CONFIG, loadOurs } = require('./lib/scenarios')
const { startServers, stopServers } = require('./lib/servers')
const { summarize } = require('./lib/stats')
const { killAll } = require('./lib/proc')
const report = require('./report')

function parseFlags (argv) {
  const f = { quick: false, only: null, peers: null, reps: null, set: {}, out: path.join(__dirname, 'results') }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') f.quick = true
    else if (a === '--only') f.only = argv[++i].split(',')
    else if (a === '--peers') f.peers = argv[++i].split(',')
    else if (a === '--reps') f.reps = Number(argv[++i])
    else if (a === '--out') f.out = path.resolve(argv[++i])
    else if (a === '--set') { const [k, v] = argv[++i].split('='); f.set[k] = Number(v) }
    else throw new Error(`unknown flag ${a} (flags: --quick --only <scenario,...> --peers <peer,...> --reps N --set key=number --out <dir>)`)
  }
  return f
}

const log = (...args) => process.stderr.write(args.join(' ') + '\n')

function pkgVersion (name) {
  try {
    return require(`${name}/package.json`).version
  } catch {
    return 'missing'
  }
}

/** The peers' npm clients are devDependencies; install the missing ones (no save). */
function ensureClients () {
  const dev = require('../package.json').devDependencies || {}
  const missing = ['pigato', 'zeromq', 'nats', 'ioredis'].filter((name) => {
    try {
      require.resolve(name)
      return false
    } catch {
      return true
    }
  })
  if (!missing.length) return
  const specs = missing.map((name) => (dev[name] ? `${name}@${dev[name]}` : name))
  log(`installing ${specs.join(' ')} with npm ...`)
  execFileSync('npm', ['install', '--no-save', ...specs], { cwd: path.join(__dirname, '..'), stdio: 'ignore', timeout: 300000 })
}

function environment (ours, servers) {
  const cpus = os.cpus()
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model,
    memTotalMB: Math.round(os.totalmem() / 2 ** 20),
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions: {
      zmqbus: require('../package.json').version,
      zmqbusNative: safe(() => ours.nativeVersion()),
      pigato: pkgVersion('pigato'),
      zeromq: pkgVersion('zeromq'),
      nats: pkgVersion('nats'),
      ioredis: pkgVersion('ioredis'),
      'nats-server': servers.nats?.version ?? servers.nats?.unavailable ?? 'not started',
      'redis-server': servers.redis?.version ?? servers.redis?.unavailable ?? 'not started'
    }
  }
}

function safe (fn) {
  try {
    return fn()
  } catch (err) {
    return `error: ${err.message}`
  }
}

/** Runs `reps` repetitions of one peer of one scenario; never throws. */
async function runPeer (scenario, peer, fn, ctx, reps) {
  const runs = []
  for (let i = 0; i < reps; i++) {
    const t0 = Date.now()
    let r
    try {
      r = await fn(ctx)
    } catch (err) {
      r = { failed: String(err.message || err).slice(0, 300) }
    }
    if (r.skip) {
      log(`  ${scenario.name} ${peer}: skipped (${r.skip})`)
      return { status: `skipped: ${r.skip}`, runs: [] }
    }
    runs.push({ ...r, wallMs: Date.now() - t0 })
    const shown = Number.isFinite(r.value) ? `${fmt(r.value)} ${r.unit}` : ''
    log(`  ${scenario.name} ${peer} #${i + 1}: ${shown}${r.failed ? ' FAILED ' + r.failed : ''}${r.extra?.lost ? ` (lost ${r.extra.lost})` : ''} [${((Date.now() - t0) / 1000).toFixed(1)} s]`)
    if (r.failed && i + 1 < reps) {
      log(`  ${scenario.name} ${peer}: not repeated after a failure`)
      break
    }
  }
  const good = runs.filter((r) => !r.failed && Number.isFinite(r.value))
  const failed = runs.filter((r) => r.failed)
  const lost = runs.reduce((s, r) => s + (r.extra?.lost || 0), 0)
  let status = 'ok'
  if (good.length === 0) status = `failed: ${failed[0]?.failed ?? 'no value'}`
  else if (failed.length) status = `failed ${failed.length}/${runs.length}: ${failed[0].failed}`
  else if (lost) status = `LOST ${lost} message${lost > 1 ? 's' : ''} over ${runs.length} run${runs.length > 1 ? 's' : ''}`
  return { status, unit: good[0]?.unit ?? runs[0]?.unit, summary: summarize(good.map((r) => r.value)), runs }
}

const fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2))

async function main () {
  const flags = parseFlags(process.argv.slice(2))
  const mode = flags.quick ? 'quick' : 'full'
  const cfg = { ...CONFIG[mode], ...flags.set }
  const reps = flags.reps || cfg.reps
  const chosen = scenarios.filter((s) => !flags.only || flags.only.includes(s.name))
  if (chosen.length === 0) throw new Error(`no scenario named ${flags.only}; known: ${scenarios.map((s) => s.name).join(', ')}`)
  ensureClients()
  const ours = loadOurs()
  const usesPeer = (p) => chosen.some((s) => p in s.peers) && (!flags.peers || flags.peers.includes(p))
  const servers = await startServers(log, { nats: usesPeer('nats'), redis: usesPeer('redis') })
  const started = new Date()
  const env = environment(ours, servers)
  log(`bench (${mode}, ${reps} rep${reps > 1 ? 's' : ''}) on ${env.cores} cores, load ${env.loadAvgAtStart.join(' ')}, node ${env.node}`)
  log(`versions: ${Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  const results = []
  try {
    for (const scenario of chosen) {
      log(`${scenario.name}: ${scenario.title}`)
      const peers = {}
      for (const [peer, fn] of Object.entries(scenario.peers)) {
        if (flags.peers && !flags.peers.includes(peer)) continue
        peers[peer] = await runPeer(scenario, peer, fn, { cfg, servers, ours }, reps)
      }
      results.push({ name: scenario.name, title: scenario.title, measures: scenario.measures, better: scenario.better, peers })
    }
  } finally {
    await stopServers(servers)
    killAll()
  }
  const doc = { started: started.toISOString(), seconds: (Date.now() - started) / 1000, mode, reps, config: cfg, env, results }
  fs.mkdirSync(flags.out, { recursive: true })
  const base = path.join(flags.out, started.toISOString().slice(0, 10) + (flags.quick ? '-quick' : ''))
  fs.writeFileSync(base + '.json', JSON.stringify(doc, null, 1) + '\n')
  fs.writeFileSync(base + '.md', report.markdown(doc, path.basename(base) + '.svg'))
  fs.writeFileSync(base + '.svg', report.svg(doc))
  log(`wrote ${base}.{json,md,svg} in ${doc.seconds.toFixed(1)} s`)
  process.stdout.write(report.markdown(doc, path.basename(base) + '.svg'))
}

main().catch((err) => {
  log(String(err.stack || err))
  killAll()
  process.exit(1)
})
