// onnxruntime-node as loaded once per jest worker by the test environment (see ort-environment.ts):
// a native addon must not be re-initialised for every test file.
module.exports = globalThis.__onnxruntimeNode;
