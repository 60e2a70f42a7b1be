// Answers every 'run' message with a 'done' message, as a worker that sends
// each result on its own would. Used by process_pool.ts.
process.on('message', (m) => process.send({ t: 'done', r: [0, undefined], b: 0, n: m.q.length }))
process.send('ready')
