// The asynchronous task of piscina: awaits a timer of `ms` milliseconds (a default export per file).
export default async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
