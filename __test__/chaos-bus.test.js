'use strict'
// The bus chaos cases in their short form (chaos/cases/04-bus-master-kill.js and
// 05-bus-rogue.js with --short): each runs as its own process in throwaway network namespaces and
// must print a CHAOS line saying it held, and exit 0. Needs root for the namespaces: skipped with
// the reason outside CI, never under CI=true.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { canNetns } = require('./bus-helpers')

const available = canNetns()
const skip = available ? false : 'needs root and iproute2 to create network namespaces'
if (skip && process.env.CI === 'true') throw new Error('chaos bus cases cannot run under CI: ' + skip)

/** Runs a case with --short; resolves with its exit code and parsed CHAOS line. */
function runCase (file, ms) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'chaos', 'cases', file), '--short'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => { child.kill('SIGINT'); reject(new Error(`${file} took over ${ms} ms; stderr:\n${err}`)) }, ms)
    child.on('close', (code) => {
      clearTimeout(timer)
      const last = out.trim().split('\n').pop() || ''
      if (!last.startsWith('CHAOS ')) return reject(new Error(`${file}: no CHAOS line (exit ${code}); stderr:\n${err}`))
      resolve({ code, row: JSON.parse(last.slice(6)), err })
    })
  })
}

test('chaos 4 (short): kill -9 of the bus master, re-elected in time, nothing lost', { skip, timeout: 55000 }, async (t) => {
  const { code, row, err } = await runCase('04-bus-master-kill.js', 50000)
  t.diagnostic(row.note)
  assert.equal(row.case, '4')
  assert.equal(row.held, true, `${row.note}\n${err}`)
  assert.equal(code, 0)
  assert.equal(row.figures.lost, 0)
  assert.ok(row.figures.worstReelectionMs <= row.figures.limitMs)
})

test('chaos 5 (short): forged election datagrams, 0 accepted with a key, the rogue wins without', { skip, timeout: 55000 }, async (t) => {
  const { code, row, err } = await runCase('05-bus-rogue.js', 50000)
  t.diagnostic(row.note)
  assert.equal(row.case, '5')
  assert.equal(row.held, true, `${row.note}\n${err}`)
  assert.equal(code, 0)
  assert.equal(row.figures.acceptedWithKey, 0)
  assert.equal(row.figures.capturedWithKey, 0)
  assert.equal(row.figures.rogueWonWithoutKey, true)
})
