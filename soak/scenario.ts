// A soak scenario: one failure mode driven many times under a global deadline.
// Each scenario counts what it tried and how each attempt ended; the runner
// prints one row per scenario and fails when anything was lost, duplicated,
// hung or wrong.

/** How one scenario ended. */
export interface SoakRow {
  /** Attempts made (tasks submitted, items mapped, connections opened...). */
  tried: number
  /** Attempts whose outcome never reached the caller. */
  lost: number
  /** Attempts whose outcome reached the caller more than once. */
  duplicated: number
  /** Attempts still unsettled when the deadline passed. */
  hung: number
  /** Attempts that settled with a value or error other than the expected one. */
  wrong: number
  /** What was still pending when the deadline passed, for the report. */
  pending?: string
}

/** One scenario of the soak. */
export interface SoakScenario {
  /** Short name shown in the table, e.g. `executor.map chunks crash`. */
  name: string
  /** Backend or context it runs on: `thread`, `process`, `inline`, `nats`, `cli`. */
  backend: string
  /** True when it needs a nats-server binary (skipped with a note without one). */
  needsNats?: boolean
  /**
   * Runs the scenario. `scale` is 1 for the full soak and smaller (e.g. 0.05)
   * for the short CI run; `deadline` is an absolute `Date.now()` bound: at the
   * deadline the scenario stops waiting and reports what is unsettled as hung.
   */
  run(options: { scale: number; deadline: number }): Promise<SoakRow>
}
