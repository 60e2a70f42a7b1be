/**
 * Argument parsing for the `multiproc` command: node:util parseArgs, with
 * one error type for everything the user typed wrong (exit code 2) and the
 * exit codes every subcommand shares.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Exit codes of every `multiproc` subcommand. */
export const EXIT = {
  /** Everything went well. */
  OK: 0,
  /** A task failed under `--on-error fail`, or the run could not go on (a worker crashed, the input broke). */
  FAILURE: 1,
  /** Bad arguments: unknown option, bad value, module or input not found. Nothing was run. */
  USAGE: 2,
  /** The run finished, but some items failed and were skipped or logged (`--on-error skip|log`). */
  PARTIAL: 3,
  /** Stopped by Ctrl-C (SIGINT): 128 + 2, as shells report it. The output is a valid prefix. */
  INTERRUPTED: 130,
} as const

/** The user typed something wrong. The message is printed as is, followed by a hint to `--help`. */
export class UsageError extends Error {
  readonly code = 'ERR_MP_USAGE'
  override name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>

/** Parses `argv` for a subcommand; unknown options and missing values become UsageErrors. */
export function parseCommand<O extends Options>(command: string, argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(`multiproc ${command}: ${(error as Error).message}`)
  }
}

/** An integer option: `undefined` when absent. */
export function integerOption(name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`Expected \`--${name}\` to be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${JSON.stringify(value)}`)
  }
  return n
}

/** A string option restricted to a few values. */
export function choiceOption<C extends string>(name: string, value: string | undefined, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`Expected \`--${name}\` to be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as C
}

/** Refuses positionals beyond `max`. */
export function maxPositionals(command: string, positionals: string[], max: number): void {
  if (positionals.length > max) {
    throw new UsageError(`multiproc ${command}: unexpected argument ${JSON.stringify(positionals[max])}`)
  }
}
