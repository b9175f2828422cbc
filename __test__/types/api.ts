// Compiled with `tsc --noEmit --strict` by __test__/types.test.js: every public API, as a
// TypeScript user writes it, must type-check against index.d.ts.
import zb = require('../..')
import zmq = require('../../zmq')
import Busmq = require('../../busmq')

async function pigato (): Promise<void> {
  const broker = new zb.Broker('tcp://127.0.0.1:55555', { heartbeat: 2500, dmode: 'load' })
  broker.start(() => undefined)
  const stats: zb.BrokerStats | null = broker.stats()
  void stats
  const keys: zb.CurveKeyPair = zb.curveKeyPair()
  const secure = new zb.Broker('tcp://127.0.0.1:55556', { curve: { secretKey: keys.secretKey, clients: [zb.z85Decode(keys.publicKey)] } })
  void secure
  const pub: string = zb.curvePublic(keys.secretKey)
  void pub
  const worker = new zb.Worker('tcp://127.0.0.1:55555', 'echo', { concurrency: 10 })
  worker.on('request', (data: zb.Json, reply: zb.Reply, opts: zb.RequestOpts) => {
    reply.write('partial')
    if (reply.active()) reply.end(data)
    void opts
  })
  worker.start()
  const client = new zb.Client('tcp://127.0.0.1:55555')
  client.start()
  const stream: zb.RequestStream = client.request('echo', 'foo', { timeout: 5000 })
  stream.on('data', (d: zb.Json) => void d)
  const final: zb.Json = await client.call('echo', { a: 1 }, { timeout: 5000 }, (partial: zb.Json) => void partial)
  void final
  const dir = new zb.services.Directory('tcp://127.0.0.1:55555', { intch: 'tcp://127.0.0.1:55550' })
  dir.start()
}

async function bus (): Promise<void> {
  const node = zb.createNode({ multicast_interface: '127.0.0.1', election_priority: 5, message_args: 'spread' })
  node.on('ready', () => node.publish('equity', 'AAPL', 500))
  node.on('message', (msg: zb.BusMessage) => void msg)
  node.subscribe('equity')
  for await (const msg of node.messages('equity')) {
    const channel: Buffer = msg[0]
    void channel
    break
  }
  await node.stop()
  const keyed = zb.createNode({ multicast_interface: '127.0.0.1', cluster_key: 'sixteen bytes or more' })
  const reasons: Record<zb.RefusalReason, number> = keyed.stats().refusedDatagramsByReason
  const forged: number = reasons.forged
  void forged
  await keyed.stop()
}

async function sockets (): Promise<void> {
  const rep = zmq.socket('rep', { linger: 0 })
  rep.bindSync('tcp://127.0.0.1:5555')
  rep.on('message', (req: Buffer) => { void rep.send('time ' + req.toString()) })
  const req = zmq.socket('req').connect('tcp://127.0.0.1:5555')
  await req.send(['a', Buffer.from('b')], zmq.ZMQ_SNDMORE)
  req.setsockopt(zmq.ZMQ_LINGER, 0)
  req.setsockopt('backlog', 10)
  const backlog = req.getsockopt('backlog')
  void backlog
  for await (const frames of req) {
    const first: Buffer = frames[0]
    void first
    break
  }
  const paused = zmq.socket('pull').pause()
  const next: Buffer[] | null = paused.read()
  void next
  paused.unref().ref().close()
  const max: number = zmq.Context.getMaxSockets()
  const ver: string = zmq.version
  const flag: 1 = zmq.ZMQ_CAN_UNBIND
  void [max, ver, flag, zmq.options.backlog, zmq.events[512]]
  const front = zmq.socket('router').monitor(10, 0).unmonitor()
  front.on('connect_retry', (ms: number, endpoint: string) => void [ms, endpoint])
  zmq.proxy(front, zmq.socket('dealer'), zmq.socket('pub'))
  const keys: { public: string, secret: string } = zmq.curveKeypair()
  const server = zmq.socket('rep', { curveServer: true, curveSecretKey: keys.secret, heartbeatInterval: 100 })
  server.authorize({ curveClients: [keys.public] })
  const mech: number = server.mechanism
  const refused: Record<string, number> | undefined = server.stats().refused
  const pair = zmq.socket('pair', { plainUsername: 'u', plainPassword: 'p', mandatory: false })
  void [mech, refused, pair, zmq.ZMQ_CURVE_SERVERKEY, zmq.ZMQ_CURVE]
}

async function busmq (): Promise<void> {
  const bus: Busmq.Bus = Busmq.create({ redis: ['redis://127.0.0.1:6379'], maxMessageSize: 1 << 20 })
  bus.withLog(console).on('error', (err: Busmq.BusmqError) => void err.code)
  bus.on('online', () => {
    const q: Busmq.Queue = bus.queue('foo')
    q.on('attached', (existed: boolean) => {
      q.push({ hello: 'world' }, (err, id) => void [err, id])
      q.consume({ reliable: true, last: 0, max: 10 })
    })
    q.on('message', (message: string, id: number) => q.ack(id))
    q.attach({ ttl: 30, maxsize: 100 })
    q.count((err, n) => void [err, n])
    q.metadata('k', 'v', () => undefined)
    const c: Busmq.Channel = bus.channel('bar', 'client', 'server')
    c.on('remote:connected', () => c.send('hello'))
    c.connect()
  })
  bus.connect()
  const again: Busmq.Bus = zb.busmq.create()
  const p = again.queue('x').promisify()
  void p

  const tlsBus = Busmq.create({ redis: 'rediss://127.0.0.1:6380', redisOptions: { tls: { ca: [Buffer.from('pem')], rejectUnauthorized: true } } })
  tlsBus.withRedis({ options: { host: '127.0.0.1', port: 6380, tls: {} } })
  const ps: Busmq.Pubsub = tlsBus.pubsub('news')
  ps.on('message', (text: string) => void text).on('subscribed', () => ps.publish({ a: 1 }, (err) => void err))
  ps.subscribe()
  const subscribed: boolean = ps.isSubscribed()
  await ps.promisify().publish('hi')
  const doc = tlsBus.persistify('doc', { title: 'x', other: 1 }, ['title', 'count'])
  const title: string = doc.title
  doc.count = 3
  doc.save((err, key) => void [err, key])
  doc.load((err, exists, key) => void [err, exists, key])
  doc.persist(30)
  const pid: string = doc.persistId()
  const svc: Busmq.Service = tlsBus.service('calc')
  svc.on('request', (data: any, reply: Busmq.Reply) => {
    if (data === 'stream') {
      const w = reply.createWriteStream()
      w.write(1)
      w.end()
    } else reply(null, data, false)
  })
  svc.serve({ reqTimeout: 500 }, () => undefined)
  const client: Busmq.Service = tlsBus.service('calc')
  client.connect(() => {
    const sent: boolean = client.request({ op: 'add' }, { reqTimeout: 200 }, (err, reply, partial) => void [err, reply, partial])
    client.request('stream', { streamReply: true }, (err, stream) => stream.on('data', (d) => void [err, d]))
    void sent
  })
  const answer: unknown = await client.promisify().request('x', { reqTimeout: 100 })
  client.disconnect(100)
  void [subscribed, title, pid, answer, Busmq.Pubsub, Busmq.Service, Busmq.Channel]
}

void [pigato, bus, sockets, busmq]
