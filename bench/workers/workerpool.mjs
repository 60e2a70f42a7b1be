// The no-op task of workerpool.
import workerpool from 'workerpool'

workerpool.worker({ noop() {} })
