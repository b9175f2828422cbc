// Types of `zmqbus/busmq`: a drop-in for the busmq module (queues over Redis).
import { EventEmitter } from 'events'

/** Errors of the busmq API: an Error with a `code`; `toString()` is the bare busmq message. */
export declare class BusmqError extends Error {
  code: string
}

export type Callback<T> = (err: BusmqError | null, value?: T) => void

export interface BusOptions {
  /** One url (`redis://[pass@]host[:port][/db]`) or a list (only one is supported so far). */
  redis?: string | string[]
  /** Only `'direct'` so far (`'sentinels'` and `'cluster'` come later). */
  layout?: 'direct' | 'sentinels' | 'cluster'
  redisOptions?: Record<string, unknown>
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
  on(event: 'online', listener: () => void): this
  on(event: 'offline', listener: (reason?: string) => void): this
  on(event: 'error', listener: (err: BusmqError) => void): this
  on(event: string, listener: (...args: any[]) => void): this
}

export declare function create(options?: BusOptions): Bus
