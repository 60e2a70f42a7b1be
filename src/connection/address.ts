/**
 * Where a Listener listens and a Client connects: a Unix socket path, or a
 * TCP host and port (Python's `address`: a path string or a `(host, port)`
 * tuple). Port 0 asks the system for a free port; the Listener reports the
 * one it got.
 */
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { typeFail, rangeFail } from '../internal/validate.js'

/** A TCP address: `{ host: '127.0.0.1', port: 6000 }` (port 0: any free port, for a Listener or Manager). */
export interface TcpAddress {
  /** A host name or IP address. */
  readonly host: string
  /** A port from 0 to 65535. */
  readonly port: number
}

/** A Unix socket path, or `{ host, port }` for TCP. */
export type Address = string | TcpAddress

export function address(name: string, value: unknown): Address {
  if (typeof value === 'string') {
    if (value === '') rangeFail(name, 'a Unix socket path or { host, port }', value)
    return value
  }
  if (typeof value !== 'object' || value === null) typeFail(name, 'a Unix socket path or { host, port }', value)
  const { host, port } = value as Partial<TcpAddress>
  if (typeof host !== 'string' || host === '') typeFail(`${name}.host`, 'a host name or IP address', host)
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) rangeFail(`${name}.port`, 'an integer from 0 to 65535', port)
  return { host, port }
}

/** A fresh Unix socket path in the temporary directory (the default address). */
export function arbitraryAddress(): string {
  return join(tmpdir(), `multiproc-${process.pid}-${randomBytes(6).toString('hex')}.sock`)
}

export function formatAddress(value: Address): string {
  return typeof value === 'string' ? value : `${value.host.includes(':') ? `[${value.host}]` : value.host}:${value.port}`
}
