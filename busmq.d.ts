// Types of `zmqbus/busmq`: a drop-in for the busmq module (queues over Redis).
import { EventEmitter } from 'events'
import { Readable, Writable } from 'stream'

/** Errors of the busmq API: an Error with a `code`; `toString()` is the bare busmq message. */
export declare class BusmqError extends Error {
  code: string
}

export type Callback<T> = (err: BusmqError | null, value?: T) => void

/** TLS settings, with the names of Node's `tls.connect` options (PEM text or Buffers). */
export interface TlsOptions {
  /** CAs to trust instead of the system's. */
  ca?: string | Buffer | Array<string | Buffer>
  /** Client certificate chain, for servers that ask for one. */
  cert?: string | Buffer | Array<string | Buffer>
  /** Private key of `cert`. */
  key?: string | Buffer | Array<string | Buffer>
  /** `false` accepts any server certificate (default `true`). */
  rejectUnauthorized?: boolean
}

/** The ioredis-style settings busmq 3.1 takes (others are accepted and ignored). */
export interface RedisOptions {
  /** Sentinels: the monitored master's name (default `'mymaster'`). */
  name?: string
  /** Sentinels: the master's password. */
  password?: string
  /** Sentinels: the master's database. */
  db?: number
  /** TLS for every url, `rediss://` or not (direct layout); `true` trusts the system's CAs. */
  tls?: TlsOptions | boolean
  [option: string]: unknown
}

export interface BusOptions {
  /**
   * One url (`redis[s]://[[user:]pass@]host[:port][/db]`) or several (each queue lives on one,
   * chosen as busmq chooses); the sentinels with `layout: 'sentinels'`, the seed nodes with
   * `layout: 'cluster'`.
   */
  redis?: string | string[]
  layout?: 'direct' | 'sentinels' | 'cluster'
  redisOptions?: RedisOptions
  logger?: unknown
  /** Largest payload push() accepts, in bytes (default 512 MB, Redis's proto-max-bulk-len). */
  maxMessageSize?: number
}

export interface AttachOptions {
  /** Seconds the queue lives after the last touch or push (default 30). */
  ttl?: number
  /** Messages the queue accepts from this pusher (0 = unbounded). */
  maxsize?: number
  discoverable?: boolean
}

export interface ConsumeOptions {
  /** Keep consumed messages in the queue's toack list until ack(id) (default false). */
  reliable?: boolean
  /** Reliable mode: the last id already handled; unacked messages after it come back. */
  last?: number
  /** Remove consumed messages (default true); false reads without removing. */
  remove?: boolean
  /** Stop after this many messages (negative or absent = unlimited). */
  max?: number
}

export declare class Queue extends EventEmitter {
  readonly name: string
  readonly id: string
  attach(options?: AttachOptions): void
  detach(): void
  push(message: string | Buffer | number | object, cb?: Callback<number | null>): boolean
  consume(options?: ConsumeOptions): void
  /** Reliable mode: acknowledges every message up to `id`. */
  ack(id: number, cb?: Callback<void>): void
  /** Makes find/ttl/metadata/exists/count/flush/push/ack return Promises (busmq 3.1). */
  promisify(): this
  stop(): void
  close(): void
  isAttached(cb?: (attached: boolean) => void): boolean
  isConsuming(): boolean
  pushed(cb?: Callback<number>): number
  consumed(cb?: Callback<number>): number
  exists(cb: Callback<boolean>): void
  count(cb: Callback<number>): void
  ttl(cb: Callback<number | null>): void
  maxsize(cb: Callback<number | null>): void
  find(cb: Callback<string | null>): void
  flush(cb?: Callback<void>): void
  metadata(cb: Callback<Record<string, string> | null>): void
  metadata(key: string, cb: Callback<string | null>): void
  metadata(key: string, value: string | number, cb?: Callback<void>): void
  metadata(values: Record<string, string | number>, cb?: Callback<void>): void
  on(event: 'attaching' | 'detaching' | 'detached' | 'closed', listener: () => void): this
  on(event: 'attached', listener: (existed: boolean) => void): this
  on(event: 'consuming', listener: (on: boolean) => void): this
  on(event: 'message', listener: (message: string, id: number) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export declare class Channel extends EventEmitter {
  readonly name: string
  local: string
  remote: string
  connect(options?: AttachOptions & ConsumeOptions): void
  attach(options?: AttachOptions & ConsumeOptions): void
  listen(options?: AttachOptions & ConsumeOptions): void
  send(message: string, cb?: Callback<number | null>): void
  sendTo(endpoint: string, message: string, cb?: Callback<number | null>): void
  disconnect(): void
  detach(): void
  end(): void
  ack(id: number, cb?: Callback<void>): void
  isAttached(): boolean
  isBound(): boolean
  promisify(): this
  /** connect/connected, remote:connect/remote:connected, disconnect, remote:disconnect, end, message, error */
  on(event: 'message', listener: (message: string, id: number) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export declare class Pubsub extends EventEmitter {
  readonly name: string
  /** The Redis channel: `bus:pubsub:<name>`. */
  readonly id: string
  readonly type: 'pubsub'
  /** Subscribes; `subscribed` once Redis confirms, then `message` per publish. */
  subscribe(): void
  attach(): void
  unsubscribe(): void
  detach(): void
  isSubscribed(): boolean
  /** Publishes a string (objects as JSON); `cb(err)` once Redis took it. */
  publish(message: string | Buffer | number | object, cb?: (err?: BusmqError | null) => void): void
  /** Makes publish() return a Promise (busmq 3.1). */
  promisify(): PromisifiedPubsub
  on(event: 'subscribed' | 'unsubscribed', listener: () => void): this
  on(event: 'message', listener: (message: string) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export interface PromisifiedPubsub extends Omit<Pubsub, 'publish'> {
  publish(message: string | Buffer | number | object): Promise<void>
}

/** What `bus.persistify()` adds to an object (busmq 3.1). */
export interface Persisted {
  /** The methods a federated bus would forward (`pread`, `pwrite`, `ptouch`). */
  federatedMethods: string[]
  /** The hash that holds the object: `bus:persisted:<name>`. */
  persistId(): string
  /** Keeps the hash alive: EXPIRE to `ttl` seconds every ttl/3 seconds, until unpersist(). */
  persist(ttl: number): void
  /** Stops the keep-alive and forgets the loaded and unsaved values. */
  unpersist(): void
  /** Resets the hash's expiry now. */
  ptouch(cb?: Callback<unknown>): void
  /** Reads the attributes back: `cb(err, exists, key)`. */
  load(cb?: (err: BusmqError | null, exists?: boolean, key?: string) => void): void
  /** Writes the changed attributes: `cb(err, key)`. */
  save(cb?: (err: BusmqError | null, key?: string) => void): void
  pread(key: string, cb?: (err: BusmqError | null, fields?: Record<string, string> | null, key?: string) => void): void
  pwrite(key: string, values: Record<string, unknown>, cb?: (err: BusmqError | null, reply?: 'OK', key?: string) => void): void
  /** The saved attributes as JSON. */
  stringify(): string
}

export interface ServiceOptions extends AttachOptions {
  /** Default time a request waits for its reply, in ms (1000). */
  reqTimeout?: number
  /** Serve: stop after this many requests. */
  max?: number
}

export interface RequestOptions {
  /** This request's time for its reply, in ms. */
  reqTimeout?: number
  /** Hand the callback a readable stream of the (partial) replies. */
  streamReply?: boolean
  /** Call back for each partial reply. */
  allowPartial?: boolean
}

/** The reply function a server's `request` listener gets. */
export interface Reply {
  /** Replies (`partial` true: more replies follow). */
  (err?: unknown, value?: unknown, partial?: boolean): void
  /** The requester's reply queue. */
  replyTo: string
  /** An object-mode stream whose writes are partial replies; end() finishes the reply. */
  createWriteStream(): Writable
}

/** `err` is an Error with code `ETIMEDOUT` (text `'timeout'`) when no reply came in time. */
export type ReplyCallback = (err: any, reply?: any, partial?: boolean) => void

/** bus.service(name) of busmq 3.1: request/reply over queue `service:<name>`. */
export declare class Service extends EventEmitter {
  readonly name: string
  /** The request queue: `service:<name>`. */
  readonly id: string
  /** This client's reply queue. */
  readonly replyTo: string
  readonly type: 'service'
  serve(cb?: () => void): void
  serve(options: ServiceOptions, cb?: () => void): void
  connect(cb?: () => void): void
  connect(options: ServiceOptions, cb?: () => void): void
  /** Sends a request (false before connect()); with `cb` a reply is awaited. */
  request(message: unknown, cb?: ReplyCallback): boolean
  request(message: unknown, options: RequestOptions & { streamReply: true }, cb: (err: any, stream: Readable) => void): boolean
  request(message: unknown, options: RequestOptions, cb?: ReplyCallback): boolean
  /** Stops taking requests; detaches once replies in flight are done or after `gracePeriod` ms. */
  disconnect(gracePeriod?: number): void
  isServing(): boolean
  isConnected(): boolean
  /** Makes serve/connect/request return Promises (busmq 3.1). */
  promisify(): PromisifiedService
  on(event: 'serving' | 'connected' | 'disconnect', listener: () => void): this
  on(event: 'request', listener: (data: any, reply: Reply) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export interface PromisifiedService extends Omit<Service, 'serve' | 'connect' | 'request'> {
  serve(options?: ServiceOptions): Promise<void>
  connect(options?: ServiceOptions): Promise<void>
  request(message: unknown, options?: RequestOptions): Promise<any>
}

export declare class Bus extends EventEmitter {
  readonly id: string
  withLog(logger: unknown): this
  /** Takes host, port, password, db and TLS from a node-redis or ioredis client object. */
  withRedis(client: unknown): this
  connect(urls?: string | string[]): void
  disconnect(): void
  isOnline(): boolean
  queue(name: string): Queue
  channel(name: string, local?: string, remote?: string): Channel
  promisify<T extends object>(object: T, methods: string[]): T
  /** A pub/sub object on Redis channel `bus:pubsub:<name>` (busmq 3.1). */
  pubsub(name: string): Pubsub
  /**
   * Makes `object` persistable in hash `bus:persisted:<name>`: `attributes` become tracked
   * properties, and save/load/persist/unpersist are added (busmq 3.1). Returns `object`.
   */
  persistify<T extends object, K extends string>(name: string, object: T, attributes: K[]): T & { [P in K]: P extends keyof T ? T[P] : any } & Persisted
  /** A service: request/reply over queue `service:<name>` (busmq 3.1). */
  service(name: string): Service
  on(event: 'online', listener: () => void): this
  on(event: 'offline', listener: (reason?: string) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export declare function create(options?: BusOptions): Bus
