'use strict'
// Adds lock-file entries for optional platform packages that the registry
// reachable here does not serve (it has only the linux-x64-gnu builds of
// e.g. @napi-rs/lzma, a dependency of @napi-rs/cli). Without them
// `npm install` writes a lock that `npm ci` rejects ("Missing: ... from lock
// file"). Each entry gets the os/cpu/libc read off its name, so npm skips it
// on other platforms without fetching it. Run after any `npm install` that
// rewrites package-lock.json: `node scripts/lock-platform-optionals.js`.
const fs = require('node:fs')
const path = require('node:path')

const file = path.join(__dirname, '..', 'package-lock.json')
const lock = JSON.parse(fs.readFileSync(file, 'utf8'))

const OSES = ['android', 'darwin', 'freebsd', 'linux', 'win32', 'openbsd', 'netbsd', 'sunos', 'aix']
const CPUS = { x64: 'x64', arm64: 'arm64', ia32: 'ia32', arm: 'arm', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', loong64: 'loong64', universal: null }

/** os/cpu/libc fields guessed from a platform package name like `x-linux-arm64-musl`. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-')
  const out = {}
  const os = parts.find((p) => OSES.includes(p))
  if (os) out.os = [os]
  const cpu = parts.find((p) => p in CPUS || p.startsWith('arm'))
  if (cpu && CPUS[cpu] !== null) out.cpu = [CPUS[cpu] || 'arm']
  if (parts.includes('wasm32')) out.cpu = ['wasm32']
  if (parts.includes('musl')) out.libc = ['musl']
  else if (parts.some((p) => p.startsWith('gnu'))) out.libc = ['glibc']
  return out
}

let added = 0
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies || {})) {
    const nested = `${key}/node_modules/${dep}`
    const hoisted = `node_modules/${dep}`
    if (lock.packages[nested] || lock.packages[hoisted]) continue
    lock.packages[hoisted] = {
      version: range.replace(/^[\^~=]/, ''),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformOf(dep),
    }
    added += 1
  }
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n')
console.log(`added ${added} optional platform entries to package-lock.json`)
