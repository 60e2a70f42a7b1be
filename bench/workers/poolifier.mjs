// The no-op task of poolifier.
import { ThreadWorker } from 'poolifier'

export default new ThreadWorker(() => {})
