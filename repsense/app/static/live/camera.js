// Camera and pose: the camera, the pose model (in a worker, on the main thread, or the server in frames mode) and the frame loop.

import { el, esc, FORCE_FRAMES, FRAME_JPEG_WIDTH, MODEL, MODEL_TIMEOUT_MS, nextT, pushCapped, state,
  stats, toast, USE_WORKER, withToken, WORKER_DEPTH } from './state.js';
import { redraw, sizeCanvas } from './drawing.js';
import { updateButtons } from './buttons.js';
import { addWarning } from './panels.js';
import { sendPose } from './connection.js';
import { peopleWanted } from './people.js';

// The people setting changed: the model follows that many poses from the next frame on.
export function setNumPoses() {
  const numPoses = peopleWanted();
  state.peopleMode = numPoses > 1;
  if (state.worker) state.worker.postMessage({ type: 'options', numPoses });
  else if (state.landmarker) state.landmarker.setOptions({ numPoses }).catch?.(() => {});
}

// MediaPipe's wasm (on the main thread with ?worker=0) writes its INFO lines ("Created TensorFlow
// Lite XNNPACK delegate for CPU.") to stderr, which lands on console.error: they are not errors.
const consoleError = console.error.bind(console);
console.error = (...args) => (typeof args[0] === 'string' && args[0].startsWith('INFO:') ? console.info(...args) : consoleError(...args));

const round4 = (v) => Math.round(v * 10000) / 10000;

function toRows(landmarks) {
  return landmarks.map((p) => [round4(p.x), round4(p.y), round4(p.z), round4(p.visibility ?? 1)]);
}

function sessionLive() { return !!state.session && !state.session.demo && !state.session.ending; }

function processVideoFrame(metadata) {
  const v = el.video;
  if (!state.demo && v.readyState >= 2 && v.currentTime !== state.lastVideoTime && !state.cameraError) {
    state.lastVideoTime = v.currentTime;
    sizeCanvas(v.videoWidth, v.videoHeight);
    if (state.mode === 'landmarks' && state.worker) {
      state.lastMeta = { captureTime: metadata ? metadata.captureTime : undefined, videoTime: v.currentTime };
      submitToWorker();
    } else if (state.mode === 'landmarks' && state.landmarker) {
      const capturedAt = performance.now();
      // The frame's capture time when the browser gives it: the engine's tempo then does not
      // depend on how long the frame waited for the model.
      const cap = metadata && Number.isFinite(metadata.captureTime) && Math.abs(capturedAt - metadata.captureTime) < 1000
        ? metadata.captureTime : capturedAt;
      const t = nextT(performance.timeOrigin + cap);
      stats.clock = cap === capturedAt ? 'processing time' : 'capture time';
      let result = null;
      try { result = state.landmarker.detectForVideo(v, capturedAt); } catch (err) { stats.errors.push(String(err)); }
      pushCapped(stats.inferMs, performance.now() - capturedAt, 2000);
      const people = result && result.landmarks ? result.landmarks.map(toRows) : [];
      const lm = people.length ? people[0] : null;
      stats.poseFrames += 1; state.poseTimes.push(performance.now());
      state.live = lm; state.livePoses = people;
      if (!lm) state.faultJoints = [];
      if (sessionLive()) sendPose(t, lm, capturedAt, people);
      redraw();
    } else if (state.mode === 'frames' && sessionLive() && state.wsOpen && !state.session.resuming) {
      sendJpegFrame();
    }
  }
}

// One frame loop per opened camera: a new camera stops the old loop.
function startFrameLoop() {
  const id = ++state.loopId;
  const tick = (_now, metadata) => {
    if (id !== state.loopId) return;
    processVideoFrame(metadata);
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype && state.stream && !state.cameraError) {
      el.video.requestVideoFrameCallback(tick);
    } else {
      setTimeout(tick, 33);
    }
  };
  tick();
}

const grab = document.createElement('canvas');

function sendJpegFrame() {
  if (state.frameInFlight && performance.now() - state.frameSentAt < 3000) return;   // one at a time
  const v = el.video;
  const scale = Math.min(1, FRAME_JPEG_WIDTH / v.videoWidth);
  grab.width = Math.round(v.videoWidth * scale); grab.height = Math.round(v.videoHeight * scale);
  grab.getContext('2d').drawImage(v, 0, 0, grab.width, grab.height);
  state.frameInFlight = true;
  state.frameSentAt = performance.now();
  const t = nextT();
  grab.toBlob(async (blob) => {
    if (!blob || !state.wsOpen) { state.frameInFlight = false; return; }
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const buf = new Uint8Array(8 + jpeg.length);
    new DataView(buf.buffer).setBigUint64(0, BigInt(t), false);
    buf.set(jpeg, 8);
    if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(buf); stats.sent += 1; } else state.frameInFlight = false;
  }, 'image/jpeg', 0.8);
}

function stageMessage(title, text) {
  if (!title) { el.stageMsg.hidden = true; return; }
  el.stageMsgTitle.textContent = title;
  el.stageMsgText.textContent = text;
  el.stageMsg.hidden = false;
}

function loading(text) {
  el.stageLoading.hidden = !text;
  if (text) el.stageLoadingText.textContent = text;
}

export async function listCameras(selected) {
  let devices = [];
  try { devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput'); } catch { /* none */ }
  el.camera.innerHTML = devices.length
    ? devices.map((d, i) => `<option value="${esc(d.deviceId)}">${esc(d.label || `Camera ${i + 1}`)}</option>`).join('')
    : '<option value="">No camera</option>';
  if (selected) el.camera.value = selected;
  return devices;
}

function stopCamera() {
  if (state.stream) for (const t of state.stream.getTracks()) { t.onended = null; t.stop(); }
  state.stream = null; state.track = null;
}

export async function openCamera(deviceId) {
  stopCamera();
  state.cameraError = null;
  loading('Starting the camera…');
  if (!navigator.mediaDevices?.getUserMedia) {
    cameraFailed('No camera access here', 'This page is not secure (https or localhost), or the browser has no camera API. You can still try the demo or upload a video.');
    return;
  }
  try {
    const video = deviceId ? { deviceId: { exact: deviceId } } : { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: 'user' };
    const stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    state.stream = stream;
    state.track = stream.getVideoTracks()[0];
    stats.cameraLabel = state.track?.label || 'camera';
    state.track.onended = onCameraEnded;
    el.video.srcObject = stream;
    await el.video.play().catch(() => {});
    stats.cameraStartedAt = performance.now();
    state.lastVideoTime = -1;
    stageMessage(null);
    const settings = state.track.getSettings ? state.track.getSettings() : {};
    await listCameras(settings.deviceId || deviceId);
    sizeCanvas(el.video.videoWidth || settings.width, el.video.videoHeight || settings.height);
    loading(null);
    startFrameLoop();
  } catch (err) {
    const name = err && err.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      cameraFailed('Camera access was denied', 'Allow the camera for this site in the browser (the icon in the address bar) and reload. Meanwhile: try the demo, or upload a video below.');
    } else if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      cameraFailed('No camera found', 'Plug in a camera and pick it in the Camera list, or try the demo, or upload a video below.');
    } else if (name === 'NotReadableError') {
      cameraFailed('The camera is busy', 'Another application is using it. Close it and pick the camera again.');
    } else {
      cameraFailed('The camera did not start', `${err && err.message ? err.message : err}`);
    }
  }
  updateButtons();
}

function cameraFailed(title, text) {
  state.cameraError = title;
  el.camera.innerHTML = `<option value="">${esc(title)}</option>`;
  loading(null);
  stageMessage(title, text);
  el.canvas.width = el.canvas.width || 640;
  updateButtons();
}

function onCameraEnded() {
  state.cameraError = 'ended';
  state.live = null; redraw();
  const kept = state.totalReps;
  const title = 'The camera stopped';
  const text = state.session
    ? `It was unplugged or taken by another app. Your session keeps its ${kept} rep${kept === 1 ? '' : 's'}: reconnect the camera and pick it in the Camera list to go on, or end the session.`
    : 'It was unplugged or taken by another app. Reconnect it and pick it in the Camera list.';
  stageMessage(title, text);
  addWarning('Camera stopped (unplugged?)', 'info');
  listCameras();
  updateButtons();
}

// The newest camera frame to the worker, as soon as it is free (on a new frame, or when it answers).
function submitToWorker() {
  const v = el.video;
  if (!state.worker || state.demo || state.cameraError || v.readyState < 2) return;
  if (state.workerJobs.length && performance.now() - state.workerJobs[0].capturedAt > 2000) state.workerJobs = [];
  if (state.workerJobs.length >= WORKER_DEPTH || v.currentTime === state.workerLastTime) return;
  state.workerLastTime = v.currentTime;
  const capturedAt = performance.now();
  const meta = state.lastMeta;
  const cap = meta && meta.videoTime === v.currentTime && Number.isFinite(meta.captureTime)
    && Math.abs(capturedAt - meta.captureTime) < 1000 ? meta.captureTime : capturedAt;
  stats.clock = cap === capturedAt ? 'processing time' : 'capture time';
  const job = { id: ++state.workerSeq, t: nextT(performance.timeOrigin + cap), capturedAt };
  state.workerJobs.push(job);
  createImageBitmap(v).then((bitmap) => {
    state.worker.postMessage({ type: 'frame', id: job.id, bitmap, ts: capturedAt }, [bitmap]);
  }).catch(() => { state.workerJobs = state.workerJobs.filter((j) => j !== job); });
}

// The model in a worker keeps the page's main thread free for drawing and the WebSocket; where a
// module worker cannot run it, the main thread does; where neither can, the server (frames mode).
function loadWorker() {
  return new Promise((resolve, reject) => {
    let w;
    try { w = new Worker('/static/pose_worker.js', { type: 'module' }); } catch (err) { reject(err); return; }
    const fail = (why) => { clearTimeout(timer); w.terminate(); reject(new Error(why)); };
    const timer = setTimeout(() => fail('timed out'), MODEL_TIMEOUT_MS);
    w.onmessage = (e) => {
      if (e.data.type === 'ready') { clearTimeout(timer); w.onmessage = onWorkerMessage; w.onerror = null; resolve(w); }
      else if (e.data.type === 'error') fail(e.data.message);
    };
    w.onerror = (e) => { e.preventDefault(); fail(e.message || 'the worker failed'); };
    w.postMessage({
      type: 'init', bundle: '/vendor/tasks-vision/vision_bundle.mjs', wasm: '/vendor/tasks-vision/wasm',
      model: withToken(`/models/pose_landmarker_${MODEL}.task`), numPoses: peopleWanted(),
    });
  });
}

function onWorkerMessage(e) {
  const m = e.data;
  if (m.type !== 'pose') return;
  const i = state.workerJobs.findIndex((j) => j.id === m.id);
  if (i < 0) return;                     // a late answer to a frame given up on
  const job = state.workerJobs[i];
  state.workerJobs.splice(0, i + 1);
  if (m.error) stats.errors.push(m.error);
  pushCapped(stats.inferMs, m.inferMs, 2000);
  stats.poseFrames += 1; state.poseTimes.push(performance.now());
  state.live = m.landmarks;
  state.livePoses = m.people || (m.landmarks ? [m.landmarks] : []);
  if (!m.landmarks) state.faultJoints = [];
  if (sessionLive()) sendPose(job.t, m.landmarks, job.capturedAt, state.livePoses);
  redraw();
  submitToWorker();
}

export async function loadModel() {
  if (FORCE_FRAMES) return;
  if (USE_WORKER) {
    try {
      state.worker = await loadWorker();
      stats.modelReady = true; stats.modelWhere = 'worker';
      updateButtons();
      return;
    } catch (err) {
      stats.workerError = String(err && err.message ? err.message : err);
    }
  }
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), MODEL_TIMEOUT_MS));
  try {
    const load = (async () => {
      const vision = await import('/vendor/tasks-vision/vision_bundle.mjs');
      const files = await vision.FilesetResolver.forVisionTasks('/vendor/tasks-vision/wasm');
      return vision.PoseLandmarker.createFromOptions(files, {
        baseOptions: { modelAssetPath: withToken(`/models/pose_landmarker_${MODEL}.task`), delegate: 'CPU' },
        runningMode: 'VIDEO', numPoses: peopleWanted(),
      });
    })();
    state.landmarker = await Promise.race([load, timeout]);
    stats.modelReady = true; stats.modelWhere = 'main thread';
  } catch (err) {
    stats.modelError = String(err && err.message ? err.message : err);
    state.mode = 'frames';
    stats.mode = 'frames';
    state.modeNote = 'the in-browser model did not load';
    toast(`The pose model could not load in this browser (${stats.modelError}); the server runs it instead.`, 'error');
  }
  updateButtons();
}
