'use strict'
// The benchmark's pure parts: percentiles, repetition summaries, and the
// Markdown/SVG report of a result document (no process is started here).

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { percentile, summarize, cdfPoints } = require('../bench/lib/stats')
const { markdown, svg } = require('../bench/report')

function doc () {
  const run = (value, extra = {}) => ({ value, unit: 'req/s', extra: { cpuPerMillion: 10, lost: 0, ...extra } })
  return {
    started: '2026-01-02T03:04:05.000Z',
    seconds: 12,
    mode: 'full',
    reps: 3,
    env: { cores: 2, cpuModel: 'cpu', memTotalMB: 100, loadAvgAtStart: [1, 1, 1], platform: 'Linux', node: 'v20', versions: { pigato: '0.0.46' } },
    results: [
      {
        name: 'rr-1w1c',
        title: 'Throughput',
        measures: 'replies/s',
        better: 'higher',
        peers: {
          ours: { status: 'ok', unit: 'req/s', summary: summarize([200, 100, 300]), runs: [run(200), run(100), run(300)] },
          pigato: { status: 'LOST 3 messages over 1 run', unit: 'req/s', summary: summarize([50]), runs: [run(50, { lost: 3 })] },
          nats: { status: 'skipped: unavailable: nats-server missing', runs: [] }
        }
      },
      {
        name: 'latency',
        title: 'Latency',
        measures: 'round trip',
        better: 'lower',
        peers: {
          ours: { status: 'ok', unit: 'µs p50', summary: summarize([100]), runs: [{ value: 100, unit: 'µs p50', extra: { p99: 200, p999: 300, cdf: [[50, 0.5], [100, 0.9], [300, 1]] } }] }
        }
      }
    ]
  }
}

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of sorted samples', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1)
    assert.equal(percentile(xs, 50), 500)
    assert.equal(percentile(xs, 99), 990)
    assert.equal(percentile(xs, 99.9), 999)
    assert.ok(Number.isNaN(percentile([], 50)))
  })

  it('summarizes repetitions as median, min and max, ignoring non-numbers', () => {
    assert.deepEqual(summarize([3, NaN, 1, 2]), { median: 2, min: 1, max: 3, n: 3 })
    assert.deepEqual(summarize([4, 1]), { median: 2.5, min: 1, max: 4, n: 2 })
    assert.equal(summarize([]), null)
  })

  it('ends a CDF at fraction 1 with the largest sample', () => {
    const pts = cdfPoints(Array.from({ length: 5000 }, (_, i) => i))
    assert.deepEqual(pts[pts.length - 1], [4999, 1])
    assert.ok(pts.length <= 401)
  })
})

describe('bench report', () => {
  it('prints median, min, max, the ratio to each peer and every status', () => {
    const md = markdown(doc(), 'chart.svg')
    assert.match(md, /\| ours \| 200 \| 100 \| 300 \| req\/s \| 3 \| 10 \| 1\.00× \| ok \|/)
    assert.match(md, /\| pigato \| 50 .*\| 4\.00× \| LOST 3 messages over 1 run \|/)
    assert.match(md, /\| nats \| – .*skipped: unavailable: nats-server missing \|/)
    assert.match(md, /2 cores/)
    assert.match(md, /pigato 0\.0\.46/)
    assert.match(md, /!\[throughput and latency\]\(chart\.svg\)/)
  })

  it('draws bars and a latency curve in a standalone SVG', () => {
    const out = svg(doc())
    assert.match(out, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    assert.match(out, /<path d="M[\d.]+,[\d.]+ L/)
    assert.equal((out.match(/<rect x="110"/g) || []).length, 2)
    assert.match(out, /<\/svg>\n$/)
  })
})
