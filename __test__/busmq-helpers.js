'use strict'
// Helpers of the busmq tests: a private redis-server per test file (127.0.0.1, a free port, no
// persistence), stopped by its PID; a redis-cli call; bounded waits for queue events.

const { spawn, execFile } = require('node:child_process')
const { freePort, waitFor, withTimeout, captureEvent, uniqName } = require('./helpers')

/**
 * Starts `redis-server` on a free 127.0.0.1 port (with `extra` arguments, e.g. `--replicaof`);
 * resolves `{ port, url, pid, stop() }`.
 */
async function startRedis (extra = []) {
  const port = await freePort()
  // A replica writes the master's RDB to its dir even with --save '': a temp dir of its own.
  const fs = require('node:fs')
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'zmqbus-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--protected-mode', 'yes', '--dir', dir, ...extra],
  { stdio: ['ignore', 'pipe', 'pipe'] })
  child.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return running(child, port, /Ready to accept connections/)
}

/**
 * Starts a Redis Sentinel (`redis-server <conf> --sentinel`, its config in a fresh temp dir)
 * that monitors master `mymaster` at 127.0.0.1:`masterPort` with quorum 1 and a 1 s down-after.
 */
async function startSentinel (masterPort) {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zmqbus-sentinel-'))
  const conf = path.join(dir, 'sentinel.conf')
  fs.writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
    'sentinel down-after-milliseconds mymaster 1000',
    'sentinel failover-timeout mymaster 4000', ''
  ].join('\n'))
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const s = await running(child, port, /\+monitor master/)
  const stop = s.stop
  s.stop = async () => { await stop(); fs.rmSync(dir, { recursive: true, force: true }) }
  return s
}

/**
 * Starts a Redis Cluster of `masters` masters with one replica each on 127.0.0.1 (node timeout
 * 1 s, bus ports chosen free), created by `redis-cli --cluster create`; resolves once every
 * node says `cluster_state:ok`. Returns `{ nodes, masters, stop() }` (nodes in creation order).
 */
async function startCluster (masters = 3) {
  const nodes = []
  try {
    for (let i = 0; i < masters * 2; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '1000', '--cluster-port', String(await freePort())]))
    }
    await new Promise((resolve, reject) => {
      execFile('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60000 }, (err, out) => (err ? reject(new Error(out + err)) : resolve(out)))
    })
    // Every node knows every other and sees every slot served (ok alone can come earlier).
    const settled = (info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${nodes.length}\\b`).test(info)
    for (const n of nodes) {
      await waitFor(async () => settled(await redisCli(n.port, 'CLUSTER', 'INFO')), 30000, 200, 'the cluster to settle')
    }
    for (const n of nodes) {
      await waitFor(async () => (await redisCli(n.port, 'CLUSTER', 'NODES')).split('\n').filter((l) => /connected/.test(l)).length === nodes.length,
        30000, 200, 'every node connected')
    }
  } catch (err) {
    for (const n of nodes) await n.stop()
    throw err
  }
  return {
    nodes,
    async stop () { for (const n of nodes) await n.stop() }
  }
}

/**
 * A throwaway PKI made with the `openssl` CLI in a fresh temp dir: a CA, a server certificate
 * for 127.0.0.1 and localhost signed by it, a client certificate signed by it, and a second CA
 * that signed nothing. Returns `{ dir, ca, wrongCa, serverCert, serverKey, clientCert,
 * clientKey, remove() }` (paths, and `pem(path)` to read one).
 */
function makeCerts () {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const { execFileSync } = require('node:child_process')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zmqbus-tls-'))
  const f = (name) => path.join(dir, name)
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe', timeout: 20000 })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const ca of ['ca', 'wrong-ca']) {
    openssl('req', '-x509', ...ec, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '2',
      '-subj', `/CN=zmqbus test ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  }
  const leaf = (name, ext) => {
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`)
    fs.writeFileSync(f(`${name}.ext`), ext)
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
      '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`))
  }
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  leaf('client', 'extendedKeyUsage=clientAuth\n')
  return {
    dir,
    ca: f('ca.crt'),
    wrongCa: f('wrong-ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    pem: (file) => fs.readFileSync(file, 'utf8'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Starts `redis-server` with TLS only (no plain port) on a free 127.0.0.1 port, serving
 * `certs`' server certificate; client certificates are required when `authClients`.
 */
async function startTlsRedis (certs, { authClients = false } = {}) {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey,
    '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', authClients ? 'yes' : 'no'],
  { stdio: ['ignore', 'pipe', 'pipe'] })
  const s = await running(child, port, /Ready to accept connections/)
  s.url = `rediss://127.0.0.1:${port}`
  return s
}

/** Waits for `child` to log `readyLine`; the handle that stops it by PID. */
async function running (child, port, readyLine) {
  let log = ''
  child.stdout.on('data', (d) => { log += d })
  child.stderr.on('data', (d) => { log += d })
  const started = new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${log}`)))
  })
  const ready = waitFor(() => readyLine.test(log), 10000, 20, 'redis-server ready')
  await Promise.race([ready, started])
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    /** Kills this server at once (SIGKILL by its PID, a crash) and waits for it to exit. */
    async kill () {
      if (child.exitCode !== null || child.signalCode !== null) return
      process.kill(child.pid, 'SIGKILL')
      await withTimeout(exited, 5000, 'redis-server exit')
    },
    /** Stops this server (by its PID) and waits for it to exit, at most 5 s. */
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      process.kill(child.pid, 'SIGTERM')
      await withTimeout(exited, 5000, 'redis-server exit').catch(() => process.kill(child.pid, 'SIGKILL'))
    }
  }
}

/** Runs `redis-cli -p port args...`; resolves its trimmed stdout. */
function redisCli (port, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 }, (err, out) => {
      if (err) reject(err)
      else resolve(out.trim())
    })
  })
}

/** Resolves the next `online` of `bus` (at most `ms`). */
function online (bus, ms = 5000) {
  return captureEvent(bus, 'online', ms)
}

/** Collects `message` events of `queue` until `n` arrived (at most `ms`): `[[payload, id]...]`. */
function collect (queue, n, ms = 5000) {
  const got = []
  return {
    got,
    done: new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} messages`)), ms)
      queue.on('message', (payload, id) => {
        got.push([payload, id])
        if (got.length === n) {
          clearTimeout(timer)
          resolve(got)
        }
      })
    })
  }
}

/** `fn(cb)` as a promise with a time limit. */
function call (fn, ms = 3000) {
  return withTimeout(new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v)))), ms, 'callback')
}

module.exports = { startRedis, startTlsRedis, makeCerts, startSentinel, startCluster, redisCli, online, collect, call, captureEvent, waitFor, withTimeout, uniqName }
