'use strict'
// `npm run pack:check`: what `npm install zmqbus` gives a user with no Rust toolchain. Packs the
// main package and this machine's platform package (npm/linux-x64-gnu, made by
// `napi create-npm-dirs`, with the built addon copied into a staging copy, as `napi artifacts`
// does at publish time), installs both into an empty directory, and runs the pigato, bus
// (loopback) and sockets examples from there with cargo and rustc off the PATH.
// Needs a release build first (`npm run build`). Network: the npm registry (prom-client) and
// 127.0.0.1 only.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const pkg = require(path.join(ROOT, 'package.json'))
const PLATFORM = `${process.platform}-${process.arch}-gnu`
const ADDON = `${pkg.napi.binaryName}.${PLATFORM}.node`

function sh (cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts })
}

/** PATH without any directory that holds cargo or rustc. */
function pathWithoutRust () {
  const dirs = process.env.PATH.split(path.delimiter)
  return dirs.filter((d) => !['cargo', 'rustc'].some((b) => fs.existsSync(path.join(d, b)))).join(path.delimiter)
}

function main () {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('pack:check verifies linux-x64-gnu only')
  const addon = path.join(ROOT, ADDON)
  if (!fs.existsSync(addon)) throw new Error(`${ADDON} is missing: run npm run build first`)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zmqbus-pack-'))
  try {
    // The platform package: npm/<platform> as generated, plus the addon.
    const stage = path.join(work, 'platform')
    fs.cpSync(path.join(ROOT, 'npm', PLATFORM), stage, { recursive: true })
    fs.copyFileSync(addon, path.join(stage, ADDON))
    const platformTgz = path.join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], { cwd: stage }).trim())
    // The main package, with the optional dependency `napi pre-publish` adds at publish time.
    const main = path.join(work, 'main')
    const mainTgzName = sh('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT }).trim()
    fs.mkdirSync(main)
    sh('tar', ['-xzf', path.join(work, mainTgzName), '-C', main])
    const mainDir = path.join(main, 'package')
    const listed = fs.readdirSync(mainDir)
    if (listed.some((f) => f.endsWith('.node'))) throw new Error('the main tarball must not carry a native addon')
    const mainPkg = JSON.parse(fs.readFileSync(path.join(mainDir, 'package.json'), 'utf8'))
    mainPkg.optionalDependencies = { [`${pkg.name}-${PLATFORM}`]: pkg.version }
    fs.writeFileSync(path.join(mainDir, 'package.json'), JSON.stringify(mainPkg, null, 2))
    const mainTgz = path.join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], { cwd: mainDir }).trim())
    // A user's empty project.
    const app = path.join(work, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
    const env = { ...process.env, PATH: pathWithoutRust() }
    sh('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', platformTgz, mainTgz], { cwd: app, env })
    if (spawnSync('cargo', ['--version'], { env }).status === 0) throw new Error('cargo is still on the PATH')
    for (const [name, run] of Object.entries(examples())) {
      const file = path.join(app, `${name}.js`)
      fs.writeFileSync(file, run.code)
      const r = spawnSync(process.execPath, [file], { cwd: app, env: { ...env, ...run.env }, encoding: 'utf8', timeout: 30000 })
      if (r.status !== 0 || !run.expect.test(r.stdout)) {
        throw new Error(`${name} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
      }
      console.log(`pack:check ${name}: ok`)
    }
    console.log('pack:check: the packed packages install and run with no Rust toolchain')
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** The repository's examples, requiring the installed package by name. */
function examples () {
  const read = (f) => fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8')
  const installed = (code) => code.replace(/require\('\.\.'\)/g, "require('zmqbus')").replace(/require\('\.\.\/\.\.\/zmq'\)/g, "require('zmqbus/zmq')")
  const port = 20000 + (process.pid % 20000)
  return {
    pigato: { code: installed(read('demo.js')), expect: /FINAL/, env: {} },
    // The seed's bus example runs unchanged; it never exits by itself, so stop after a message.
    bus: {
      code: read('zmqbus-simple.js') + "\nnode.on('message', function () { node.stop(function () { process.exit(0) }) })\n",
      expect: /received equity,AAPL,500/,
      env: { ZMQBUS_MULTICAST_INTERFACE: '127.0.0.1' }
    },
    sockets: {
      code: `const zmq = require('zmqbus/zmq')
const rep = zmq.socket('rep'); rep.bindSync('tcp://127.0.0.1:${port}')
rep.on('message', (m) => rep.send('time ' + m))
const req = zmq.socket('req').connect('tcp://127.0.0.1:${port}')
req.on('message', (r) => { console.log(String(r)); req.close(); rep.close() })
req.send('now')
`,
      expect: /time now/,
      env: {}
    }
  }
}

main()
