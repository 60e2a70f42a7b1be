// The no-op task of piscina and tinypool (a default export per file).
export default function noop() {}
