'use strict'
// Small statistics for the benchmark: percentiles of latency samples and the
// median/min/max summary of repeated runs. Pure functions, no I/O.

/** The `p`-th percentile (0..100) of an ascending array, nearest-rank; NaN when empty. */
function percentile (sorted, p) {
  if (sorted.length === 0) return NaN
  // The epsilon keeps 99.9% of 1000 at rank 999 despite floating point.
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** Median, min, max and count of the finite numbers in `values`; null when none. */
function summarize (values) {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (xs.length === 0) return null
  const mid = xs.length >> 1
  const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
  return { median, min: xs[0], max: xs[xs.length - 1], n: xs.length }
}

/**
 * Points of an empirical CDF of `sorted`, at most `maxPoints` of them, each
 * `[value, fraction <= value]`; the tail (p99..p100) keeps every sample so
 * that the chart shows it.
 */
function cdfPoints (sorted, maxPoints = 200) {
  const n = sorted.length
  if (n === 0) return []
  const points = []
  const step = Math.max(1, Math.floor(n / maxPoints))
  const tail = Math.floor(n * 0.99)
  for (let i = 0; i < n; i += i >= tail ? 1 : step) points.push([sorted[i], (i + 1) / n])
  if (points[points.length - 1][1] !== 1) points.push([sorted[n - 1], 1])
  return points.length > maxPoints * 2 ? thin(points, maxPoints * 2) : points
}

function thin (points, max) {
  const step = points.length / max
  const out = []
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * step)])
  out.push(points[points.length - 1])
  return out
}

module.exports = { percentile, summarize, cdfPoints }
