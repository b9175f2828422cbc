'use strict'
// The generated napi loader, loaded once. Kept apart so facades can be required without
// loading the addon twice and so a missing binary fails with a clear message: which
// platform, and how to build from source.
let binding
try {
  binding = require('../binding.js')
} catch (err) {
  const { platform, arch } = process
  const libc = platform === 'linux' ? (isMusl() ? '-musl' : '-gnu') : ''
  const e = new Error(`zmqbus: no native addon for ${platform}-${arch}${libc}: no prebuilt package ` +
    `(zmqbus-${platform}-${arch}${libc}) was installed for it, and none was built here. To build from ` +
    'source, install a Rust toolchain (https://rustup.rs gives cargo) and run `npm run build` in the ' +
    `zmqbus package directory. Loader said: ${err.message}`)
  e.code = 'ENOADDON'
  throw e
}

function isMusl () {
  try {
    return !process.report.getReport().header.glibcVersionRuntime
  } catch (e) {
    return false
  }
}

module.exports = binding
