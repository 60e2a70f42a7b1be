// Task module of the benchmarks.
export function noop(): void {}
