'use strict'
// For __test__/chaos-*.test.js: runs one case of the fault suite's short version through the runner
// (node chaos/run.js --short --only NN) and asserts that its row held. One case per test file, since
// `npm test` gives each file 60 s.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const RUN = path.join(__dirname, 'run.js')

/** Runs chaos/run.js with `args` (plus --out <tmp>); resolves with { code, out, err, doc }. */
function runner (args) {
  const file = path.join(os.tmpdir(), `zmqbus-chaos-${process.pid}-${Math.random().toString(36).slice(2)}.json`)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, ...args, '--out', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err = (err + d).slice(-6000) })
    child.on('error', reject)
    child.on('close', (code) => {
      let doc = null
      try { doc = JSON.parse(fs.readFileSync(file, 'utf8')) } catch {}
      fs.rmSync(file, { force: true })
      resolve({ code, out, err, doc })
    })
  })
}

/** A test: case `nn` of chaos/cases holds in its short version. `todo`: why it may not yet. */
function shortCase (nn, { todo } = {}) {
  test(`fault suite case ${nn} holds (chaos/run.js --short --only ${nn})`, { timeout: 58000, todo }, async (t) => {
    const { code, out, err, doc } = await runner(['--short', '--only', nn, '--case-limit', 55])
    assert.ok(doc, `the runner wrote no results (exit ${code}): ${err.slice(-3000)}`)
    assert.equal(doc.rows.length, 1, out)
    const row = doc.rows[0]
    t.diagnostic(`${row.title} (${row.seconds} s): ${JSON.stringify(row.figures)}`)
    assert.ok(row.held, `case ${nn} did not hold: ${row.note}\n${err.slice(-3000)}`)
    assert.equal(code, 0, out)
  })
}

module.exports = { runner, shortCase }
