/**
 * The one place that loads the NATS clients. `@nats-io/*` are imported
 * lazily (dynamic import) so that the core of multiproc never loads them: a
 * program that uses threads or processes only needs none of them installed.
 */
import { readFileSync } from 'node:fs'
import { ClusterError } from '../../errors.js'
import { DEFAULT_SERVER, type NatsConnectionOptions } from './nats_options.js'

export interface NatsModules {
  core: typeof import('@nats-io/transport-node')
  js: typeof import('@nats-io/jetstream')
}

let modules: Promise<NatsModules> | null = null

// The names sit in variables so that a bundler leaves these imports to Node
// at run time: the clients are optional peers, and a literal import() of a
// package that is not installed fails the whole build.
const CORE_CLIENT: string = '@nats-io/transport-node'
const JETSTREAM_CLIENT: string = '@nats-io/jetstream'

/** Loads the NATS clients once, with a clear error when they are not installed. */
export function loadNats(): Promise<NatsModules> {
  modules ??= Promise.all([
    import(CORE_CLIENT) as Promise<NatsModules['core']>,
    import(JETSTREAM_CLIENT) as Promise<NatsModules['js']>,
  ]).then(
    ([core, js]) => ({ core, js }),
    (error: unknown) => {
      modules = null
      throw new ClusterError(
        'The cluster backend needs the NATS clients: npm install @nats-io/transport-node @nats-io/jetstream',
        { cause: error },
      )
    },
  )
  return modules
}

export type NatsConnection = import('@nats-io/transport-node').NatsConnection

export type ObjectStoreModule = typeof import('@nats-io/obj')

let objectStore: Promise<ObjectStoreModule> | null = null
const OBJECT_STORE_CLIENT: string = '@nats-io/obj'

/**
 * Loads the Object Store client once, on the first payload too large for a
 * message: a cluster whose tasks and results all fit one message never
 * needs it installed.
 */
export function loadObjectStore(): Promise<ObjectStoreModule> {
  objectStore ??= (import(OBJECT_STORE_CLIENT) as Promise<ObjectStoreModule>).catch((error: unknown) => {
    objectStore = null
    throw new ClusterError(
      "Arguments and results larger than the NATS server's max_payload travel through the JetStream Object Store, which needs its client where callers and workers run: npm install @nats-io/obj",
      { cause: error },
    )
  })
  return objectStore
}

/**
 * Runs `attempt` until it succeeds, again after each failure (with a backoff
 * up to 1 s) while `timeout` ms have not passed and `nc` is open: a server
 * restart costs a delay, not the operation. Rejects with the last error.
 */
export async function retrying<T>(nc: NatsConnection, timeout: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + timeout
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (error) {
      if (performance.now() >= deadline || nc.isClosed()) throw error
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** n)))
    }
  }
}

/** Connects with reconnects forever (the cluster outlives a server restart); `timeout` bounds the first connect (ms). */
export async function connectNats(options: NatsConnectionOptions, name: string, timeout?: number): Promise<NatsConnection> {
  const { core } = await loadNats()
  const servers = options.servers ?? process.env.MULTIPROC_NATS_URL ?? DEFAULT_SERVER
  const authenticators = []
  if (options.nkeySeed !== undefined) authenticators.push(core.nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed)))
  if (options.credsFile !== undefined) authenticators.push(core.credsAuthenticator(readFileSync(options.credsFile)))
  try {
    return await core.connect({
      servers,
      name: options.name ?? name,
      ...(options.user !== undefined ? { user: options.user, pass: options.pass } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(authenticators.length > 0 ? { authenticator: authenticators } : {}),
      ...(options.tls !== undefined ? { tls: options.tls as never } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
      ...(timeout !== undefined ? { timeout } : {}),
    })
  } catch (error) {
    throw new ClusterError(`Cannot connect to NATS at ${String(servers)}: ${(error as Error)?.message ?? error}`, { cause: error })
  }
}

/** Creates the work-queue stream if it does not exist yet. */
export async function ensureStream(nc: NatsConnection, stream: string, subject: string): Promise<void> {
  const { js } = await loadNats()
  const jsm = await js.jetstreamManager(nc)
  try {
    await jsm.streams.info(stream)
    return
  } catch (error) {
    if (!isNotFound(error)) throw new ClusterError(`Cannot read JetStream stream ${stream}: ${(error as Error).message}. Is the server started with JetStream (-js)?`, { cause: error })
  }
  try {
    await jsm.streams.add({ name: stream, subjects: [subject], retention: js.RetentionPolicy.Workqueue, storage: js.StorageType.File, duplicate_window: 120_000_000_000 })
  } catch (error) {
    // Another caller or worker created it meanwhile.
    try {
      await jsm.streams.info(stream)
    } catch {
      throw new ClusterError(`Cannot create JetStream stream ${stream}: ${(error as Error).message}`, { cause: error })
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; message?: string; api_error?: { err_code?: number } }
  return /not found/i.test(String(e?.message)) || e?.code === 404 || e?.code === '404'
}

