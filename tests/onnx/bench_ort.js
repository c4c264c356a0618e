// ONNX Runtime timing of an exported model, as ../shared/anchor/ort_bench.js measures (same session
// options, median of REPS timed runs after one warm-up, one JSON line), but feeding the model's own
// input name ("pixel_values") instead of "input":
//   node bench_ort.js MODEL.onnx CHANNELS HEIGHT WIDTH BATCH [THREADS] [REPS]
const ort = require('onnxruntime-node');
(async () => {
  const [model, C, H, W, B, T = '2', R = '5'] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +T, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const dims = [+B, +C, +H, +W];
  const x = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => Math.random() - 0.5), dims);
  const feeds = { [session.inputNames[0]]: x };
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < +R; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const version = require('onnxruntime-node/package.json').version;
  console.log(JSON.stringify({ engine: 'onnxruntime ' + version, model: require('path').basename(model, '.onnx'),
    batch: +B, threads: +T, ms_per_batch: +ms.toFixed(2), img_per_s: +(+B * 1000 / ms).toFixed(2) }));
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
