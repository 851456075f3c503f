// The pose model off the page's main thread: MediaPipe tasks-vision's PoseLandmarker (VIDEO mode,
// CPU) in a module worker. The page posts camera frames as ImageBitmaps (one at a time) and gets
// back the landmarks as 33 rows of [x, y, z, visibility], or null when nobody is in view. With
// `numPoses` > 1 in the init message (the page's "people" setting) the reply's `people` also holds
// every pose found (a list of landmark lists, in the model's order: the server tells who is who).

// MediaPipe's wasm writes its own INFO lines ("Created TensorFlow Lite XNNPACK delegate for CPU.")
// to stderr, which lands on console.error: they are information, not errors.
const consoleError = console.error.bind(console);
console.error = (...args) => (typeof args[0] === 'string' && args[0].startsWith('INFO:') ? console.info(...args) : consoleError(...args));

let landmarker = null;
const round4 = (v) => Math.round(v * 10000) / 10000;

self.onmessage = async (e) => {
  const m = e.data;
  if (m.type === 'init') {
    try {
      const vision = await import(m.bundle);
      const files = await vision.FilesetResolver.forVisionTasks(m.wasm, true);
      landmarker = await vision.PoseLandmarker.createFromOptions(files, {
        baseOptions: { modelAssetPath: m.model, delegate: 'CPU' },
        runningMode: 'VIDEO', numPoses: Math.min(6, Math.max(1, m.numPoses | 0 || 1)),
      });
      self.postMessage({ type: 'ready' });
    } catch (err) {
      self.postMessage({ type: 'error', message: String(err && err.message ? err.message : err) });
    }
    return;
  }
  if (m.type === 'options' && landmarker) {
    await landmarker.setOptions({ numPoses: Math.min(6, Math.max(1, m.numPoses | 0 || 1)) });
    return;
  }
  if (m.type === 'frame') {
    const t0 = performance.now();
    let landmarks = null;
    let people = [];
    let error = null;
    try {
      const result = landmarker.detectForVideo(m.bitmap, m.ts);
      if (result.landmarks && result.landmarks.length) {
        people = result.landmarks.map((pose) => pose.map((p) => [round4(p.x), round4(p.y), round4(p.z), round4(p.visibility ?? 1)]));
        landmarks = people[0];
      }
    } catch (err) {
      error = String(err && err.message ? err.message : err);
    } finally {
      m.bitmap.close();
    }
    self.postMessage({ type: 'pose', id: m.id, landmarks, people, error, inferMs: performance.now() - t0 });
  }
};
