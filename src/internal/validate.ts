/**
 * Argument validation with one message template:
 * "Expected `maxWorkers` to be a positive integer, got -1".
 *
 * Public classes validate their input with these helpers; internals trust it.
 */
import { inspect } from 'node:util'
import { invalidArgType, invalidArgValue } from '../errors.js'

/** Renders a received value for an error message, short and unambiguous. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return value.name ? `function ${value.name}` : 'an anonymous function'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 })
}

/** Throws a TypeError when `value` is not of the expected kind. */
export function typeFail(name: string, expected: string, value: unknown): never {
  throw invalidArgType(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`)
}

/** Throws a RangeError when `value` is of the right type but out of range. */
export function rangeFail(name: string, expected: string, value: unknown): never {
  throw invalidArgValue(`Expected \`${name}\` to be ${expected}, got ${describe(value)}`)
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') typeFail(name, 'a positive integer', value)
  if (!Number.isInteger(value) || value < 1) rangeFail(name, 'a positive integer', value)
  return value
}

export function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') typeFail(name, 'a non-negative integer', value)
  if (!Number.isInteger(value) || value < 0) rangeFail(name, 'a non-negative integer', value)
  return value
}

/** A duration in milliseconds: a finite number >= 0, or Infinity when `allowInfinity`. */
export function timeoutMs(name: string, value: unknown, allowInfinity = true): number {
  const expected = allowInfinity ? 'a number of milliseconds >= 0 (or Infinity)' : 'a finite number of milliseconds >= 0'
  if (typeof value !== 'number') typeFail(name, expected, value)
  if (Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) rangeFail(name, expected, value)
  return value
}

export function optionalTimeout(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  return timeoutMs(name, value)
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') typeFail(name, 'a boolean', value)
  return value
}

export function string(name: string, value: unknown): string {
  if (typeof value !== 'string') typeFail(name, 'a string', value)
  return value
}

export function func(name: string, value: unknown): (...args: any[]) => unknown {
  if (typeof value !== 'function') typeFail(name, 'a function', value)
  return value as (...args: any[]) => unknown
}

export function abortSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value === null) return undefined
  if (!(value instanceof AbortSignal)) typeFail(name, 'an AbortSignal', value)
  return value
}

export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) typeFail(name, 'an options object', value)
  return value as Record<string, unknown>
}

export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    const list = choices.map((c) => `'${c}'`).join(', ')
    if (typeof value !== 'string') typeFail(name, `one of ${list}`, value)
    rangeFail(name, `one of ${list}`, value)
  }
  return value as T
}

/** Refuses option keys that do not exist, so a typo never goes unnoticed. */
export function knownKeys(what: string, options: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw invalidArgValue(
        `Unknown option \`${key}\` for ${what}; expected one of ${allowed.map((k) => `\`${k}\``).join(', ')}`,
        'ERR_MP_UNKNOWN_OPTION',
      )
    }
  }
}

/**
 * The keys of an options interface as a list for `knownKeys`, written once as
 * `{ key: true, ... }`: the compiler refuses a record that misses a key of `T`
 * or names one `T` does not have, so the runtime list cannot drift from the type.
 */
export function keysOf<T extends object>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys)
}

/** Reads the options of a call that only waits (`{ timeout }`), refusing any other key. */
export function timeoutOption(what: string, options: unknown): number | undefined {
  const o = plainObject('options', options)
  knownKeys(what, o, TIMEOUT_KEYS)
  return optionalTimeout('options.timeout', o.timeout)
}
const TIMEOUT_KEYS = ['timeout']
