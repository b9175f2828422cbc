'use strict'
// Turns a bench result document (bench/results/<date>.json) into a Markdown
// report and a self-drawn SVG chart (throughput bars, latency CDF). No chart
// dependency. Usage: node bench/report.js <result.json> (writes .md and .svg
// beside it).

const fs = require('node:fs')
const path = require('node:path')

const COLORS = { ours: '#d9480f', 'ours-sockets': '#d9480f', 'ours-bus': '#f08c00', pigato: '#1971c2', nats: '#2f9e44', zeromq: '#7048e8', redis: '#c2255c' }
const color = (peer) => COLORS[peer] || '#495057'

/** How to read a scenario's rows (method, not figures). */
const NOTES = {
  pubsub: 'zeromq PUB drops messages past its send high-water mark (1,000, the default) instead of blocking, which shows as loss; NATS and Redis clients buffer instead.',
  fanout: 'zeromq PUB drops past its high-water mark per subscriber (1,000, the default), which shows as loss.',
  failover: 'pigato-API rows detect the dead worker by heartbeat (3 missed beats); NATS drops the subscriber when its TCP connection closes, so only a request already sent to the killed responder waits for its 1 s timeout.',
  memory: 'A run fails, saying how many requests arrived, when the worker has not received all N in time; with pigato some requests never arrive (a likely cause, not verified here: its broker\'s ROUTER socket drops past the high-water mark).'
}

/** Per-scenario extra columns: [label, fn(extra) -> number]; the median over runs is shown. */
function extraColumns (name) {
  if (name.startsWith('rr-')) return [['CPU s / 1M req', (e) => e.cpuPerMillion]]
  if (name === 'latency') return [['p99 µs', (e) => e.p99], ['p999 µs', (e) => e.p999]]
  if (name === 'pubsub' || name === 'fanout') return [['lost %', (e) => e.lossPct], ['CPU s / 1M msg', (e) => e.cpuPerMillion]]
  if (name === 'failover') return [['failed requests', (e) => e.errors], ['timed out, resent', (e) => e.resent ?? 0]]
  if (name === 'memory') return [['idle total MB', (e) => e.idle.client + e.idle.worker + e.idle.broker], ['client MB', (e) => e.held.client], ['worker MB', (e) => e.held.worker], ['broker MB', (e) => e.held.broker]]
  return []
}

function median (xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (!s.length) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function num (x) {
  if (!Number.isFinite(x)) return '–'
  if (Number.isInteger(x)) return x.toLocaleString('en-US')
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  if (Math.abs(x) >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

const oursRows = (sc) => Object.keys(sc.peers).filter((p) => (p === 'ours' || p.startsWith('ours-')) && sc.peers[p].summary)

function scenarioTable (sc) {
  const extras = extraColumns(sc.name)
  const ours = oursRows(sc)
  const head = ['peer', 'median', 'min', 'max', 'unit', 'runs', ...extras.map(([l]) => l), ...ours.map((o) => `${o} ÷ peer`), 'status']
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const [peer, r] of Object.entries(sc.peers)) {
    const s = r.summary
    const good = r.runs.filter((x) => !x.failed && x.extra)
    const cells = [
      peer,
      s ? num(s.median) : '–',
      s ? num(s.min) : '–',
      s ? num(s.max) : '–',
      r.unit || '',
      String(r.runs.length),
      ...extras.map(([, fn]) => num(median(good.map((x) => { try { return fn(x.extra) } catch { return NaN } })))),
      ...ours.map((o) => (s && s.median ? `${(sc.peers[o].summary.median / s.median).toFixed(2)}×` : '–')),
      r.status.replace(/\|/g, '/')
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

function cpuTable (doc) {
  const rows = []
  for (const sc of doc.results) {
    if (!/^rr-|^pubsub$|^fanout$/.test(sc.name)) continue
    for (const [peer, r] of Object.entries(sc.peers)) {
      const v = median(r.runs.filter((x) => !x.failed && x.extra).map((x) => x.extra.cpuPerMillion))
      if (Number.isFinite(v)) rows.push(`| ${sc.name} | ${peer} | ${num(v)} |`)
    }
  }
  if (!rows.length) return ''
  return ['| scenario | peer | CPU s per 1M messages (median) |', '|---|---|---|', ...rows].join('\n')
}

/** The Markdown report: environment, then one table per scenario. */
function markdown (doc, svgName) {
  const e = doc.env
  const out = []
  out.push(`- Run of ${doc.started.slice(0, 16).replace('T', ' ')} UTC, ${doc.mode} mode, ${doc.reps} repetition(s) per figure, each in fresh processes over tcp on 127.0.0.1, after a warm-up; ${doc.seconds.toFixed(0)} s in all.`)
  out.push(`- Machine: ${e.cores} cores (${e.cpuModel}), ${e.memTotalMB} MB, ${e.platform}, node ${e.node}; load average at start ${e.loadAvgAtStart.join(' / ')} (other work on the machine was not stopped).`)
  out.push(`- Versions: ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`)
  out.push('- Median, min and max are over the repetitions; "ours ÷ peer" divides our median by that row\'s median. A row that lost messages or failed says so in its status; a peer that failed once is not repeated.')
  if (svgName) out.push(`\n![throughput and latency](${svgName})`)
  for (const sc of doc.results) {
    out.push(`\n#### ${sc.title} (\`${sc.name}\`, ${sc.better} is better)\n`)
    out.push(`Measured: ${sc.measures}.${NOTES[sc.name] ? ' ' + NOTES[sc.name] : ''}\n`)
    out.push(scenarioTable(sc))
  }
  const cpu = cpuTable(doc)
  if (cpu) out.push(`\n#### CPU seconds per million messages\n\nUser + system CPU of every process of the run (clients, workers, broker or server), from /proc, over the measured part.\n\n${cpu}`)
  return out.join('\n') + '\n'
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')

/** Throughput bars (scaled within each scenario) on the left, latency CDF on the right. */
function svg (doc) {
  const W = 1000
  const barScenarios = doc.results.filter((s) => /^rr-|^pubsub$|^fanout$/.test(s.name))
  const bars = []
  for (const sc of barScenarios) {
    const rows = Object.entries(sc.peers).filter(([, r]) => r.summary)
    if (!rows.length) continue
    bars.push({ title: sc.name, rows, max: Math.max(...rows.map(([, r]) => r.summary.max)) })
  }
  const rowH = 18
  const barsH = bars.reduce((h, g) => h + 22 + g.rows.length * rowH, 40)
  const H = Math.max(barsH, 380)
  const p = []
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  p.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  p.push(`<text x="10" y="20" font-size="14" font-weight="bold">Throughput, median of the runs</text>`)
  p.push(`<text x="10" y="34" font-size="11" fill="#495057">bars scaled within each scenario; whisker = min..max; (!) = lost messages or failed runs</text>`)
  let y = 44
  const x0 = 110
  const bw = 260
  for (const g of bars) {
    p.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(g.title)}</text>`)
    y += 18
    for (const [peer, r] of g.rows) {
      const s = r.summary
      const w = (s.median / g.max) * bw
      p.push(`<text x="${x0 - 6}" y="${y + 12}" text-anchor="end">${esc(peer)}</text>`)
      p.push(`<rect x="${x0}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${color(peer)}"/>`)
      p.push(`<line x1="${(x0 + (s.min / g.max) * bw).toFixed(1)}" x2="${(x0 + (s.max / g.max) * bw).toFixed(1)}" y1="${y + 8}" y2="${y + 8}" stroke="#000"/>`)
      const flag = r.status === 'ok' ? '' : ' (!)'
      p.push(`<text x="${x0 + bw + 6}" y="${y + 12}">${esc(num(s.median) + ' ' + (r.unit || '') + flag)}</text>`)
      y += rowH
    }
    y += 4
  }
  drawCdf(p, doc.results.find((s) => s.name === 'latency'), { x: 660, y: 40, w: 320, h: 300 })
  p.push('</svg>')
  return p.join('\n') + '\n'
}

function drawCdf (p, sc, box) {
  p.push(`<text x="${box.x - 40}" y="20" font-size="14" font-weight="bold">Latency CDF, one request in flight</text>`)
  if (!sc) return
  const series = []
  for (const [peer, r] of Object.entries(sc.peers)) {
    const runs = r.runs.filter((x) => !x.failed && x.extra?.cdf?.length).sort((a, b) => a.value - b.value)
    if (runs.length) series.push([peer, runs[runs.length >> 1].extra.cdf])
  }
  if (!series.length) return
  const all = series.flatMap(([, pts]) => pts.map(([v]) => v)).filter((v) => v > 0)
  const lo = Math.log10(Math.min(...all))
  const hi = Math.log10(Math.max(...all))
  const span = Math.max(hi - lo, 0.1)
  const X = (v) => box.x + ((Math.log10(Math.max(v, 1)) - lo) / span) * box.w
  // Tail-stretched fraction axis: 0.5, 0.9, 0.99, 0.999 are evenly spaced.
  const TOP = 3.3
  const Y = (f) => box.y + box.h - (Math.min(TOP, -Math.log10(Math.max(1 - f, 10 ** -TOP))) / TOP) * box.h
  p.push(`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#adb5bd"/>`)
  for (const f of [0, 0.5, 0.9, 0.99, 0.999]) {
    p.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${Y(f)}" y2="${Y(f)}" stroke="#e9ecef"/><text x="${box.x - 4}" y="${Y(f) + 4}" text-anchor="end">${f}</text>`)
  }
  p.push(`<text x="${box.x - 48}" y="${box.y + box.h / 2}" text-anchor="middle" transform="rotate(-90 ${box.x - 48} ${box.y + box.h / 2})">fraction of requests at most x (tail stretched)</text>`)
  for (let d = Math.ceil(lo); d <= Math.floor(hi); d++) {
    const v = 10 ** d
    p.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${box.y}" y2="${box.y + box.h}" stroke="#e9ecef"/><text x="${X(v)}" y="${box.y + box.h + 14}" text-anchor="middle">${v >= 1000 ? v / 1000 + ' ms' : v + ' µs'}</text>`)
  }
  p.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h + 30}" text-anchor="middle">round trip (log scale)</text>`)
  series.forEach(([peer, pts], i) => {
    const d = pts.map(([v, f], j) => `${j ? 'L' : 'M'}${X(v).toFixed(1)},${Y(f).toFixed(1)}`).join(' ')
    p.push(`<path d="${d}" fill="none" stroke="${color(peer)}" stroke-width="2"/>`)
    p.push(`<rect x="${box.x + box.w - 100}" y="${box.y + box.h - 20 - (series.length - i) * 16}" width="10" height="10" fill="${color(peer)}"/><text x="${box.x + box.w - 84}" y="${box.y + box.h - 11 - (series.length - i) * 16}">${esc(peer)}</text>`)
  })
}

module.exports = { markdown, svg }

if (require.main === module) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node bench/report.js bench/results/<date>.json\n')
    process.exit(2)
  }
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  const base = file.replace(/\.json$/, '')
  fs.writeFileSync(base + '.md', markdown(doc, path.basename(base) + '.svg'))
  fs.writeFileSync(base + '.svg', svg(doc))
  process.stdout.write(`wrote ${base}.md and ${base}.svg\n`)
}
