// Runs an exported model in ONNX Runtime (npm's onnxruntime-node) for the tests:
//   node run_ort.js MODEL.onnx INPUT.f32 N C H W OUTDIR [THREADS]
// INPUT.f32 holds N*C*H*W little-endian float32 values, fed as "pixel_values" [N, C, H, W]. Each output
// is written to OUTDIR/<name>.f32 (raw float32) and its shape to OUTDIR/shapes.json ({"name": [dims]}).
// Exits non-zero, with the reason on stderr, if anything fails.
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

(async () => {
  const [model, input, N, C, H, W, outdir, threads = '2'] = process.argv.slice(2);
  const dims = [+N, +C, +H, +W];
  const bytes = fs.readFileSync(input);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== 4 * count) throw new Error(`${input}: ${bytes.length} bytes, expected ${4 * count}`);
  // Copy into a fresh, aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const results = await session.run({ pixel_values: new ort.Tensor('float32', data, dims) });
  const shapes = {};
  for (const name of session.outputNames) {
    const t = results[name];
    shapes[name] = t.dims;
    fs.writeFileSync(path.join(outdir, name + '.f32'), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  fs.writeFileSync(path.join(outdir, 'shapes.json'), JSON.stringify(shapes));
})().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
