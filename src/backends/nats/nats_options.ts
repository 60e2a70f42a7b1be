/**
 * Connection options of the cluster backend (and the one limit every
 * cluster class shares, `maxPayloadSize`). The NATS clients themselves are
 * loaded by nats_client.ts, which no public declaration refers to: the
 * published types then never name `@nats-io/*`, so a TypeScript program
 * without the optional clients installed type-checks with skipLibCheck off.
 */
import { invalidArgType } from '../../errors.js'
import { plainObject, positiveInteger, typeFail } from '../../internal/validate.js'

/** How to reach and authenticate with the NATS servers (passed through to the client), and the largest payload. */
export interface NatsConnectionOptions {
  /** Server URL(s). Default: `MULTIPROC_NATS_URL` or `nats://127.0.0.1:4222`. */
  servers?: string | string[]
  /** User and password. */
  user?: string
  /** The password that goes with `user`. */
  pass?: string
  /** Token authentication. */
  token?: string
  /** An nkey seed (`SU...`), for nkey authentication. */
  nkeySeed?: string
  /** A `.creds` file (JWT + nkey seed) to authenticate with. */
  credsFile?: string
  /** TLS options as the NATS Node.js client takes them (`{ caFile, certFile, keyFile }`...), passed through. */
  tls?: Record<string, unknown>
  /** Subject prefix of every multiproc subject. Default `multiproc`. */
  prefix?: string
  /** Name of the JetStream work-queue stream. Default `MULTIPROC`. */
  stream?: string
  /** Client connection name, shown by `nats-server` monitoring. */
  name?: string
  /**
   * The largest payload, in bytes: a task's arguments or a result, encoded.
   * Those over the server's max_payload (1 MiB by default) travel through
   * the JetStream Object Store (`npm install @nats-io/obj`). A caller sends
   * no larger task and reads no larger result, a worker sends no larger
   * result and reads no larger task: such a task fails with
   * `PayloadTooLargeError` (a `SerializationError`), alone. Default 1 GiB
   * (1073741824).
   */
  maxPayloadSize?: number
}

export const CONNECTION_KEYS = ['servers', 'user', 'pass', 'token', 'nkeySeed', 'credsFile', 'tls', 'prefix', 'stream', 'name', 'maxPayloadSize'] as const

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222'

/** Validates the connection options (the public classes call it). */
export function checkConnectionOptions(opts: Record<string, unknown>): void {
  if (opts.servers !== undefined) {
    const list = Array.isArray(opts.servers) ? opts.servers : [opts.servers]
    if (list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) typeFail('servers', 'a server URL or an array of them', opts.servers)
  }
  for (const key of ['user', 'pass', 'token', 'nkeySeed', 'credsFile', 'name'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'string') typeFail(key, 'a string', opts[key])
  }
  for (const key of ['prefix', 'stream'] as const) {
    const v = opts[key]
    if (v !== undefined && (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v))) {
      throw invalidArgType(`Expected \`${key}\` to be a name of letters, digits, '-' and '_', got ${typeof v === 'string' ? JSON.stringify(v) : typeof v}`)
    }
  }
  if (opts.tls !== undefined) plainObject('tls', opts.tls)
  if (opts.maxPayloadSize !== undefined) positiveInteger('maxPayloadSize', opts.maxPayloadSize)
}

/** Picks the connection options out of a larger options object. */
export function connectionOptions(opts: Record<string, unknown>): NatsConnectionOptions {
  const out: Record<string, unknown> = {}
  for (const key of CONNECTION_KEYS) if (opts[key] !== undefined) out[key] = opts[key]
  return out as NatsConnectionOptions
}
