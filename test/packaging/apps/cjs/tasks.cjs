// Tasks for the CommonJS app.
exports.square = function square(x) {
  return x * x
}
