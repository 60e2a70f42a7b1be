/**
 * The `--backend` names and the default NATS server, in a module that loads
 * nothing: `multiproc map` checks its flags without loading the library's
 * contexts (backend.ts binds the names to them).
 */
export const BACKENDS = ['thread', 'process', 'inline', 'nats'] as const
export type BackendName = (typeof BACKENDS)[number]

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'
