/**
 * How many workers `multiproc map` keeps busy, and when the others start.
 *
 * Another worker costs its start (tens of milliseconds of CPU, on a core the
 * rest of the machine may want), which a little work does not repay: `-j 2`
 * would be slower than `-j 1`. So a run begins with blocks going one at a
 * time (one worker busy: the executor starts no other) and goes wide when
 * there is work for every worker:
 *
 *  - a regular file of EAGER_BYTES or more: at once (even a trivial task
 *    has more work in it than a worker's start);
 *  - a smaller file: when the time per byte measured on its blocks says the
 *    rest of the file holds more than PARALLEL_MIN_MS of work. The measure
 *    leaves out the first block (it pays for cold code) and waits for
 *    GATE_EVIDENCE_MS of work (small blocks are mostly their fixed costs,
 *    which would make the rest look longer than it is);
 *  - a stream, whose size is unknown, goes as the window allows from the
 *    start: a slow pipe must not wait for a block to finish before the next
 *    is read (and lines of `--concurrent-tasks` that wait for one another
 *    may be in different blocks). The executor starts the other workers as
 *    blocks queue up.
 *
 * Under `-j 1` a file goes as the window allows from the start, unless the
 * worker runs several lines at once (`--concurrent-tasks`): then it goes
 * one block at a time until the rule above would go wide, so that a block
 * has that one worker's lanes to itself.
 *
 * Going wide first starts the other workers (`warm`: each loads the task
 * module) and waits until they are ready, blocks still going one at a time
 * meanwhile: a block sent to a worker that is still starting would hold up
 * the output, which is written in input order, while the ready worker sat
 * idle. The first worker is started the same way as the run begins (unless
 * the input is an empty file), while the main thread gets ready; the first
 * block waits for it (see #startFirst).
 */

/** Bytes of a regular file from which every worker starts at once. */
export const EAGER_BYTES = 2 * 1024 * 1024
/** Work left, in worker milliseconds, that repays starting the other workers. */
const PARALLEL_MIN_MS = 150
/** Measured work the decision to start more workers waits for. */
const GATE_EVIDENCE_MS = 5

type State = 'one' | 'warming' | 'open'

/**
 * Workers a run starts as it begins, by the rules above: every one for a
 * file of EAGER_BYTES or more, none for an empty file, else the first.
 * `inputSize`: bytes of a regular file, NaN for a stream.
 */
export function workersAtStart(inputSize: number, workers: number): number {
  if (inputSize === 0) return 0
  return inputSize >= EAGER_BYTES && workers > 1 ? workers : 1
}

export class ParallelGate {
  readonly #size: number
  readonly #workers: number
  readonly #warm: (workers: number) => Promise<void>
  #state: State = 'one'
  /** The first worker is loading: no block goes yet. */
  #starting = false
  #inFlight = 0
  #sentTo = 0
  #blocks = 0
  #ms = 0
  #bytes = 0
  #wake: (() => void) | null = null

  /**
   * `inputSize`: bytes of a regular file, NaN for a stream. `warm(n)`
   * starts n workers (the first included) and resolves when they are ready.
   * `lanes`: lines each worker runs at once (`--concurrent-tasks`).
   */
  constructor(inputSize: number, workers: number, warm: (workers: number) => Promise<void>, lanes = 1) {
    this.#size = inputSize
    this.#workers = workers
    this.#warm = warm
    const starting = workersAtStart(inputSize, workers)
    // One worker running one line at a time: nothing to keep apart, and blocks sent ahead save it a round trip each.
    if (Number.isNaN(inputSize) || (workers <= 1 && lanes <= 1 && inputSize > 0)) {
      this.#state = 'open'
      this.#startFirst()
    } else if (starting > 1) {
      this.#goWide()
    } else if (starting === 1) {
      this.#startFirst()
    }
  }

  /**
   * The first worker, alone: the first block waits until it is ready. Sent
   * while it still loads, the block would find no idle worker, and the
   * executor would start another for it.
   */
  #startFirst(): void {
    this.#starting = true
    void this.#warm(1).then(() => {
      this.#starting = false
      this.#wakeUp()
    })
  }

  /** Whether blocks still go one at a time. */
  get closed(): boolean {
    return this.#state !== 'open'
  }

  /** Resolves when another block may be sent. */
  async turn(): Promise<void> {
    while (this.#starting || (this.#state !== 'open' && this.#inFlight > 0)) await new Promise<void>((resolve) => (this.#wake = resolve))
  }

  /** A block up to byte `end` was sent. */
  sent(end: number): void {
    this.#inFlight++
    this.#sentTo = end
  }

  /** A block of `bytes` is done in `ms` of worker time. */
  done(ms: number, bytes: number): void {
    this.#inFlight--
    if (this.#blocks++ > 0) {
      this.#ms += ms
      this.#bytes += bytes
    }
    if (this.#state === 'one' && this.#ms >= GATE_EVIDENCE_MS && ((this.#size - this.#sentTo) * this.#ms) / this.#bytes > PARALLEL_MIN_MS) this.#goWide()
    this.#wakeUp()
  }

  /** The run ends: nothing waits any more. */
  open(): void {
    this.#state = 'open'
    this.#starting = false
    this.#wakeUp()
  }

  #goWide(): void {
    this.#state = 'warming'
    void this.#warm(this.#workers).then(() => this.open())
  }

  #wakeUp(): void {
    this.#wake?.()
    this.#wake = null
  }
}
