#!/usr/bin/env node
'use strict'
// The fault suite (issue 14): runs every chaos/cases/<nn>-<name>.js one at a time, each in its own
// process (which spawns its own), reads the `CHAOS {json}` line each prints last, prints a table,
// writes chaos/results/<date>.json (<date>-short.json for --short), and with --readme rewrites the
// README's generated "Fault suite" section from that run.
//
//   node chaos/run.js [--short] [--only 01,03] [--readme] [--out results.json] [--merge full.json]
//                     [--cases dir] [--case-limit s]
//
// A case that crashes, times out or prints no CHAOS line is a row that did not hold, with the reason.
const fs = require('node:fs')
const path = require('node:path')
const os = require('node:os')
const { spawn } = require('node:child_process')
const { markdown, updateReadme } = require('./report')

const casesAt = process.argv.indexOf('--cases')
// --cases <dir>: another directory of cases (the runner's own tests use it).
const CASES = casesAt >= 0 ? path.resolve(process.argv[casesAt + 1]) : path.join(__dirname, 'cases')
const RESULTS = path.join(__dirname, 'results')
const argv = process.argv.slice(2)
const short = argv.includes('--short')
const readme = argv.includes('--readme')
const onlyAt = argv.indexOf('--only')
// --merge <full.json>: the cases run replace their rows in that full run's file (each marked with
// when it was re-run), which is then the file written and reported.
const mergeAt = argv.indexOf('--merge')
const mergeFile = mergeAt >= 0 ? path.resolve(argv[mergeAt + 1]) : null
const outAt = argv.indexOf('--out')
const outFile = outAt >= 0 ? path.resolve(argv[outAt + 1]) : null
const only = onlyAt >= 0 ? String(argv[onlyAt + 1] || '').split(',').map((s) => s.trim()).filter(Boolean) : null
// A case gets this long before it is killed (its own limits are shorter).
const limitAt = argv.indexOf('--case-limit')
const CASE_LIMIT_MS = limitAt >= 0 ? Number(argv[limitAt + 1]) * 1000 : (short ? 3 : 20) * 60 * 1000

let current = null
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    // The case's own handler kills its children.
    if (current) try { process.kill(current.pid, sig) } catch {}
    setTimeout(() => process.exit(130), 1500)
  })
}

function runCase (file) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [path.join(CASES, file), ...(short ? ['--short'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
    current = child
    let out = ''
    let errTail = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d) => { out += d })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d) => {
      errTail = (errTail + d).slice(-3000)
      process.stderr.write(d.replace(/^(?=.)/gm, `  ${file.slice(0, 2)} `))
    })
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGINT') } catch {} ; setTimeout(() => { try { process.kill(child.pid, 'SIGKILL') } catch {} }, 3000) }, CASE_LIMIT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      current = null
      const seconds = Math.round((Date.now() - t0) / 100) / 10
      const lines = out.trim().split('\n')
      const last = lines[lines.length - 1] || ''
      const number = String(Number(file.slice(0, 2)))
      let row = null
      if (last.startsWith('CHAOS ')) {
        try { row = JSON.parse(last.slice(6)) } catch (err) { row = null }
      }
      if (!row) {
        const why = signal ? `ended by ${signal}` : `exit code ${code}`
        row = { case: number, title: file.replace(/\.js$/, ''), held: false, figures: {}, note: `no CHAOS line (${why}); stderr: ${errTail.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}` }
      } else if (row.held && code !== 0) {
        row = { ...row, held: false, note: `${row.note} (but exit code ${code})` }
      }
      resolve({ file, seconds, exit: code, ...row })
    })
  })
}

async function main () {
  const files = fs.readdirSync(CASES).filter((f) => /^\d\d-.*\.js$/.test(f)).sort()
    .filter((f) => !only || only.includes(f.slice(0, 2)))
  if (!files.length) throw new Error(`no case matches ${only ? only.join(',') : 'chaos/cases/NN-*.js'}`)
  const t0 = Date.now()
  const started = new Date()
  const rows = []
  for (const f of files) {
    process.stderr.write(`chaos: ${f}${short ? ' --short' : ''}\n`)
    const row = await runCase(f)
    process.stderr.write(`chaos: ${f}: ${row.held ? 'held' : 'NOT HELD'} in ${row.seconds} s\n`)
    rows.push(row)
  }
  const doc = {
    mode: short ? 'short' : 'full',
    startedAt: started.toISOString(),
    seconds: Math.round((Date.now() - t0) / 1000),
    machine: { cores: os.cpus().length, cpu: (os.cpus()[0] || {}).model, memMb: Math.round(os.totalmem() / 1048576), os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version, load: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    version: require('../package.json').version,
    only,
    rows
  }
  fs.mkdirSync(RESULTS, { recursive: true })
  const date = started.toISOString().slice(0, 10)
  let file = outFile || path.join(RESULTS, `${date}${short ? '-short' : ''}${only ? '-partial' : ''}.json`)
  let out = doc
  if (mergeFile) {
    const base = JSON.parse(fs.readFileSync(mergeFile, 'utf8'))
    if (base.mode !== doc.mode) throw new Error(`cannot merge a ${doc.mode} run into ${mergeFile}, a ${base.mode} run`)
    for (const row of rows) {
      const i = base.rows.findIndex((r) => r.file === row.file)
      const marked = { ...row, rerunAt: started.toISOString() }
      if (i >= 0) base.rows[i] = marked
      else base.rows.push(marked)
    }
    base.rows.sort((x, y) => x.file.localeCompare(y.file))
    out = base
    file = outFile || mergeFile
  }
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(markdown(out) + '\n')
  process.stdout.write(`\n${rows.filter((r) => r.held).length} of ${rows.length} held in ${doc.seconds} s; figures in ${path.relative(process.cwd(), file)}\n`)
  if (readme) process.stdout.write(updateReadme(file) + '\n')
  process.exitCode = rows.every((r) => r.held) ? 0 : 1
}

main().catch((err) => { console.error(err); process.exit(2) })
