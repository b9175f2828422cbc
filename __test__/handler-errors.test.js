'use strict'
// A user's handler that throws, for every engine's events: with an 'error' listener the error
// goes there; with an 'uncaughtException' listener it reaches that; with neither Node ends
// the process as for any uncaught exception (exit code 1, the error printed). In every case
// the process never aborts and the events after the throwing one are still delivered.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const FIXTURE = path.join(__dirname, 'fixtures', 'throwing-handler.js')
const SCENARIOS = ['client-final', 'client-partial', 'client-stream', 'worker-request', 'socket-message', 'socket-monitor', 'bus-message']

function run (scenario, mode) {
  const res = spawnSync(process.execPath, [FIXTURE, scenario, mode], { encoding: 'utf8', timeout: 20000 })
  return { code: res.status, signal: res.signal, out: res.stdout, err: res.stderr }
}

for (const scenario of SCENARIOS) {
  describe(`a throwing ${scenario} handler`, () => {
    for (const mode of ['error', 'uncaught']) {
      it(`is caught by ${mode === 'error' ? "an 'error' listener" : 'uncaughtException'} and later events still arrive`, () => {
        const r = run(scenario, mode)
        assert.equal(r.signal, null, r.err)
        assert.equal(r.code, 0, `exit ${r.code}\n${r.out}\n${r.err}`)
        assert.match(r.out, /CAUGHT handler failed in /)
        // One throw, one report: never a second, empty one (an `undefined` raised after the real error).
        assert.equal(r.out.split('\n').filter((l) => l.startsWith('CAUGHT')).length, 1, r.out)
        assert.match(r.out, /SECOND/)
        assert.doesNotMatch(r.err, /async hook stack|FATAL|Aborted/)
      })
    }
    it('with no listener ends the process as an uncaught exception (exit 1)', () => {
      const r = run(scenario, 'none')
      assert.equal(r.signal, null, r.err)
      assert.equal(r.code, 1, `exit ${r.code}\n${r.out}\n${r.err}`)
      assert.match(r.err, /Error: handler failed in /)
      assert.doesNotMatch(r.err, /async hook stack|FATAL/)
    })
  })
}
