'use strict'
// The fault suite's runner (chaos/run.js) keeps its contract with the cases, on fixture cases
// (chaos/test-cases/): a held row, a row that did not hold with its reason, a case that throws (its
// children are killed), one that prints no CHAOS line, one that never ends; the table and the exit
// code say so. The real cases run in __test__/chaos-NN.test.js, one file each.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { runner } = require('../chaos/test-support')

const FIXTURES = path.join(__dirname, '..', 'chaos', 'test-cases')

test('the runner turns every kind of case ending into one row', { timeout: 30000 }, async () => {
  const { code, out, err, doc } = await runner(['--short', '--cases', FIXTURES, '--case-limit', 4])
  assert.equal(code, 1, 'a row that did not hold fails the run')
  assert.equal(doc.mode, 'short')
  const rows = Object.fromEntries(doc.rows.map((r) => [r.file.slice(0, 2), r]))
  assert.deepEqual(Object.keys(rows), ['01', '02', '03', '04', '05'])
  assert.equal(rows['01'].held, true)
  assert.deepEqual(rows['01'].figures, { n: 3, codes: { C_X: 1 } })
  assert.equal(rows['02'].held, false)
  assert.equal(rows['02'].note, 'arithmetic')
  assert.equal(rows['03'].held, false)
  assert.match(rows['03'].note, /crashed: boom/)
  assert.equal(rows['04'].held, false)
  assert.match(rows['04'].note, /no CHAOS line \(exit code 3\)/)
  assert.equal(rows['05'].held, false)
  assert.match(rows['05'].note, /no CHAOS line \(ended by SIG(INT|KILL)\)/)
  assert.match(out, /\| 1 \| holds \| held \| n: 3; codes: C_X 1 \| fine \|/)
  assert.match(out, /1 of 5 held/)
  // The throwing case's child was killed with it.
  const child = /child-pid=(\d+)/.exec(err)
  assert.ok(child, err)
  assert.throws(() => process.kill(Number(child[1]), 0), { code: 'ESRCH' })
})

test('--only picks cases by number', { timeout: 15000 }, async () => {
  const { code, doc } = await runner(['--short', '--cases', FIXTURES, '--only', '01'])
  assert.equal(code, 0)
  assert.deepEqual(doc.rows.map((r) => r.case), ['1'])
})
