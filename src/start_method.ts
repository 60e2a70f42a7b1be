/**
 * The backends a context can be bound to, by name (Python's start methods),
 * and the Context a `context` option stands for.
 *
 * Pool and Process take a `context` option (a name or a Context) but must not
 * import context.ts: the Context hands out Pool and Process classes, so it
 * imports them, and imports run one way (scripts/import_cycles.mjs). So
 * context.ts, when it loads, binds names to contexts here with
 * `bindContexts`, and Pool and Process ask `contextFor`. Both are reached
 * only through the package entry (src/index.ts), which loads context.ts
 * before any program code runs.
 */
import type { Context } from './context.js'

/** The backends a context can be bound to (Python's start methods). */
export type StartMethod = 'thread' | 'process' | 'inline' | 'nats'

export const START_METHODS: readonly StartMethod[] = ['thread', 'process', 'inline', 'nats']

/** The Context for a `context` option: undefined or null (the default), a name, or a Context; undefined for anything else. */
type ContextResolver = (value: unknown) => Context | undefined

let resolver: ContextResolver | undefined

/** @internal Called once by context.ts: how a `context` option becomes a Context. */
export function bindContexts(resolve: ContextResolver): void {
  resolver = resolve
}

/**
 * The Context a `context` option stands for: the default context for
 * undefined or null, `getContext(name)` for a name, the Context itself for
 * a Context; undefined for anything else (the caller names the option in
 * its error).
 */
export function contextFor(value: unknown): Context | undefined {
  if (resolver === undefined) throw new Error('multiproc: the context module is not loaded; import multiproc from its package entry')
  return resolver(value)
}
