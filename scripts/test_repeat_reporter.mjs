// Node test reporter for scripts/test_repeat.mjs: one JSON line per failed test
// (its name and the first line of its error) and per line the file wrote to
// stderr, so the repeat script can say why a file failed without parsing the
// spec reporter's text.
const firstLine = (text) => String(text ?? '').split('\n').find((line) => line.trim() !== '') ?? ''

export default async function* failures(source) {
  for await (const { type, data } of source) {
    if (type === 'test:fail') {
      const error = data.details?.error
      // A suite failing because a test in it failed, or a test cancelled with it, adds nothing.
      if (error?.failureType === 'subtestsFailed' || error?.failureType === 'cancelledByParent') continue
      yield JSON.stringify({ fail: data.name, message: firstLine(error?.cause?.message ?? error?.cause ?? error?.message) }) + '\n'
    } else if (type === 'test:stderr') {
      yield JSON.stringify({ stderr: data.message }) + '\n'
    }
  }
}
