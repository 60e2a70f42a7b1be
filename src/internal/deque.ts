/**
 * A growable ring buffer: O(1) push/shift at both ends without the O(n)
 * `Array.prototype.shift` of a plain array. The task queue and every worker's
 * in-flight list are Deques.
 */
export class Deque<T> {
  #buf: (T | undefined)[]
  #head = 0
  #size = 0
  #mask: number

  constructor(capacity = 16) {
    let cap = 16
    while (cap < capacity) cap <<= 1
    this.#buf = new Array(cap)
    this.#mask = cap - 1
  }

  get length(): number {
    return this.#size
  }

  push(value: T): void {
    if (this.#size === this.#buf.length) this.#grow()
    this.#buf[(this.#head + this.#size) & this.#mask] = value
    this.#size++
  }

  unshift(value: T): void {
    if (this.#size === this.#buf.length) this.#grow()
    this.#head = (this.#head - 1) & this.#mask
    this.#buf[this.#head] = value
    this.#size++
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const value = this.#buf[this.#head]
    this.#buf[this.#head] = undefined
    this.#head = (this.#head + 1) & this.#mask
    this.#size--
    return value
  }

  pop(): T | undefined {
    if (this.#size === 0) return undefined
    const index = (this.#head + this.#size - 1) & this.#mask
    const value = this.#buf[index]
    this.#buf[index] = undefined
    this.#size--
    return value
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head]
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined
    return this.#buf[(this.#head + index) & this.#mask]
  }

  /** Removes and returns the element at `index` (O(distance to the nearer end)). */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined
    const mask = this.#mask
    const buf = this.#buf
    const value = buf[(this.#head + index) & mask]
    if (index < this.#size >> 1) {
      // Shift the elements before it one place toward the tail.
      for (let i = index; i > 0; i--) buf[(this.#head + i) & mask] = buf[(this.#head + i - 1) & mask]
      buf[this.#head] = undefined
      this.#head = (this.#head + 1) & mask
    } else {
      for (let i = index; i < this.#size - 1; i++) buf[(this.#head + i) & mask] = buf[(this.#head + i + 1) & mask]
      buf[(this.#head + this.#size - 1) & mask] = undefined
    }
    this.#size--
    return value
  }

  clear(): void {
    this.#buf.fill(undefined)
    this.#head = 0
    this.#size = 0
  }

  /** Removes and returns every element, oldest first. */
  drain(): T[] {
    const out: T[] = new Array(this.#size)
    for (let i = 0; i < out.length; i++) out[i] = this.#buf[(this.#head + i) & this.#mask] as T
    this.clear()
    return out
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#buf[(this.#head + i) & this.#mask] as T
  }

  #grow(): void {
    const old = this.#buf
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask]
    this.#buf = next
    this.#head = 0
    this.#mask = next.length - 1
  }
}
