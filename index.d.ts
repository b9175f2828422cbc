// Hand-written public types of zmqbus (the generated native types are in binding.d.ts).
import { EventEmitter } from 'events'
import { Readable, Writable } from 'stream'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

// ---------------------------------------------------------------- pigato request/reply

export interface BrokerConf {
  /** Heartbeat period in ms (default 2500). */
  heartbeat?: number
  /** Missed heartbeats before a worker is purged (default 3). */
  heartbeatLiveness?: number
  /** Dispatch mode: fewest in flight first ('load', default) or random ('rand'). */
  dmode?: 'load' | 'rand'
  /** ROUTER identity (default 'B' + uuid). */
  name?: string
  /** Internal PUB channel for core services (default 'tcp://127.0.0.1:55550'); false disables it. */
  intch?: string | false
  /** Persistence controller for requests sent with `persist: true`. */
  ctrl?: { rset(req: PersistedRequest, cb?: () => void): void; rdel(req: { rid: string }): void; rgetall(cb: (err: unknown, reqs: Record<string, PersistedRequest>) => void): void }
  /** Reply cache bounds (entries, bytes). */
  cacheMaxEntries?: number
  cacheMaxBytes?: number
  onStart?: () => void
  onStop?: () => void
}

export interface PersistedRequest { rid: string; clientId: string; service: string; opts: Record<string, Json>; msg: string[] }

export interface BrokerStats { [counter: string]: number }

export declare class Broker extends EventEmitter {
  constructor(endpoint: string, conf?: BrokerConf)
  readonly endpoint: string
  conf: BrokerConf & { name: string; intch: string | false }
  start(cb?: () => void): void
  stop(cb?: () => void): void
  /** Counters of the running broker, or null when stopped. */
  stats(): BrokerStats | null
  on(event: 'start' | 'stop', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export interface WorkerConf {
  prefix?: string
  /** Max requests in flight (default 100, -1 unlimited); may change at any time. */
  concurrency?: number
  heartbeat?: number
  reconnect?: number
  onConnect?: () => void
  onDisconnect?: () => void
}

export interface RequestOpts {
  /** ms; default the client's conf.timeout (60000); -1 = never. */
  timeout?: number
  /** 1 = re-queue to another worker if the serving worker dies. */
  retry?: number
  /** Only this worker may serve the request. */
  workerId?: string
  /** Skip the broker's reply cache. */
  nocache?: boolean
  /** Hand the request to the broker's persistence controller. */
  persist?: boolean
  [key: string]: Json | undefined
}

export declare class Reply extends Writable {
  /** True once end()/error()/reject() was called. */
  readonly ended: boolean
  /** Sent with every reply; `opts.cache = ms` lets the broker answer identical requests from cache. */
  opts: { cache?: number; [key: string]: Json | undefined }
  write(data: Json, cb?: (err?: Error | null) => void): boolean
  end(data?: Json, cb?: () => void): this
  reject(err?: Json): void
  error(err: Json): void
  heartbeat(): void
  active(): boolean
}

export declare class Worker extends EventEmitter {
  constructor(broker: string, service: string, conf?: WorkerConf)
  readonly service: string
  socketId?: string
  conf: Required<Pick<WorkerConf, 'prefix' | 'concurrency' | 'heartbeat' | 'reconnect'>> & WorkerConf
  start(): void
  stop(): void
  heartbeat(opts?: Record<string, Json>): void
  on(event: 'request', listener: (data: any, reply: Reply, opts: RequestOpts) => void): this
  on(event: 'start' | 'stop' | 'connect' | 'disconnect', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export interface ClientConf {
  prefix?: string
  autostart?: boolean
  heartbeat?: number
  reconnect?: number
  timeout?: number
  retry?: number
  onConnect?: () => void
  onDisconnect?: () => void
}

export interface RequestStream extends Readable {
  /** Sends a request heartbeat to the worker serving this request. */
  heartbeat(): void
}

/** Rejection of `client.call()`: `code` is the error string ('C_TIMEOUT', ...), `data` the raw value. */
export interface ReplyError extends Error { code: string; data: Json }

export declare class Client extends EventEmitter {
  constructor(broker: string, conf?: ClientConf)
  socketId?: string
  conf: Required<Pick<ClientConf, 'prefix' | 'heartbeat' | 'reconnect' | 'timeout' | 'retry'>> & ClientConf
  start(): void
  stop(): void
  request(service: string, data?: Json, opts?: RequestOpts): RequestStream
  request(service: string, data: Json | undefined, partial: ((err: null, data: any) => void) | null | undefined,
    final: (err: any, data: any) => void, opts?: RequestOpts): void
  requestStream(service: string, data?: Json, opts?: RequestOpts): RequestStream
  /** Promise of the final reply; partial replies go to onPartial. */
  call<T = any>(service: string, data?: Json, opts?: RequestOpts, onPartial?: (data: any) => void): Promise<T>
  heartbeat(rid?: string): void
  on(event: 'start' | 'stop' | 'connect' | 'disconnect', listener: () => void): this
  on(event: 'error', listener: (err: Error | string) => void): this
}

export declare namespace services {
  class Directory {
    constructor(endpoint: string, conf: { intch: string; onStart?: () => void; onStop?: () => void })
    start(): void
    stop(): void
  }
}

export declare function nativeVersion(): string
