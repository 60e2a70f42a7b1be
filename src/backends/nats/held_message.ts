/**
 * A task message a worker holds: from its delivery until the caller
 * confirmed the result of every task in it (then it is acked), its caller is
 * gone (then it is terminated) or unreachable (then it goes back to the
 * stream). While held it gets an in-progress signal every heartbeat, so
 * JetStream does not give it to another worker.
 */
export interface HeldMessage {
  msg: Delivery
  /** The caller's session. */
  session: string
  /** Ids of the tasks whose result the caller has not confirmed yet. */
  open: Set<string>
  /** Stop the running tasks of this message: by task id, or by the ids of a batch joined with ','. */
  controllers: Map<string, AbortController>
  /** Its caller is gone: its results are dropped. */
  dead: boolean
  /** Acked, terminated or given back. */
  done: boolean
}

/** How a held message is answered: a JetStream message, or a task taken directly (direct_delivery.ts). */
export interface Delivery {
  readonly info: { readonly deliveryCount: number }
  ack(): void
  nak(millis?: number): void
  term(reason?: string): void
  working(): void
}
