/**
 * `--backend` on the command line → a context. The cluster backend is asked
 * for by name with its server URLs; a build without it refuses the name, and
 * the user gets a sentence instead of an argument error.
 */
import { getContext, type Context } from '../context.js'
import { UsageError } from './args.js'

import { DEFAULT_NATS_URL, type BackendName } from './backend_names.js'

export { BACKENDS, DEFAULT_NATS_URL, type BackendName } from './backend_names.js'

export function contextFor(backend: BackendName, natsUrl: string = DEFAULT_NATS_URL): Context {
  if (backend !== 'nats') return getContext(backend)
  try {
    return (getContext as (name: string, options?: { servers: string }) => Context)('nats', { servers: natsUrl })
  } catch (error) {
    if (error instanceof RangeError || (error as { code?: string })?.code === 'ERR_MP_INVALID_ARG_VALUE') {
      throw new UsageError('The nats backend is not available in this build of multiproc (use --backend thread, process or inline)')
    }
    throw error
  }
}
