// Settings from the URL, the page's elements, its state and measurements, small helpers.

export const params = new URLSearchParams(location.search);
export const FORCE_FRAMES = params.get('mode') === 'frames';
export const MODEL = params.get('model') === 'full' ? 'full' : 'lite';   // lite: see bench/browser_pose.py
const TOKEN = params.get('token');
// The model runs in a worker (pose_worker.js), fed the newest frame whenever it is free; ?worker=0
// runs it on the main thread. On the shared 2-core machine the worker gave 20-27 pose frames/s
// against 15-17 and the same or a shorter camera -> event time (bench/browser_pose.py).
export const USE_WORKER = params.get('worker') !== '0' && typeof Worker !== 'undefined';
export const WORKER_DEPTH = 1;
export const MODEL_TIMEOUT_MS = 30000;
export const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
export const MAX_BUFFER = 30000;        // poses kept while disconnected (~16 min at 30 fps)
export const BATCH = 300;               // poses per `poses` message (well under the 1 MB limit)
export const SET_GAP_S = 30;            // a pause this long between reps starts a new set
export const FORM_HOLD_MS = 4000;       // the form panel falls back to neutral after this
export const FRAME_JPEG_WIDTH = 640;
export const STORE_KEY = 'repsense.session';

export const $ = (id) => document.getElementById(id);

export const el = {
  conn: $('conn'), mute: $('mute'), camera: $('camera'), exSelect: $('exercise-select'),
  start: $('start'), end: $('end'), demo: $('demo'), stage: $('stage'), video: $('video'),
  canvas: $('overlay'), hudBadge: $('hud-badge'), hudRec: $('hud-rec'), hudPlay: $('hud-play'),
  hudCountBox: $('hud-count-box'), hudCount: $('hud-count'), hudEx: $('hud-ex'),
  stageMsg: $('stage-msg'), stageMsgTitle: $('stage-msg-title'), stageMsgText: $('stage-msg-text'),
  stageLoading: $('stage-loading'), stageLoadingText: $('stage-loading-text'), status: $('status'),
  rec: $('rec'), play: $('play'), download: $('download'), recInfo: $('rec-info'),
  exercise: $('exercise'), phase: $('phase'), confBar: $('conf-bar'), conf: $('conf'),
  count: $('rep-count'), setLine: $('set-line'), totalLine: $('total-line'), perEx: $('per-exercise'),
  formPanel: $('form-panel'), formTitle: $('form-title'), formText: $('form-text'),
  lastRep: document.querySelector('[data-testid="last-rep"]'), scoreRing: $('score-ring'),
  score: $('score'), tEcc: $('t-ecc'), tPause: $('t-pause'), tCon: $('t-con'),
  barEcc: $('tempo-ecc'), barPause: $('tempo-pause'), barCon: $('tempo-con'), romBar: $('rom-bar'),
  rom: $('rom'), hold: document.querySelector('[data-testid="hold-timer"]'), holdTime: $('hold-time'), holdLabel: $('hold-label'),
  holdState: $('hold-state'), holdGood: $('hold-good'), warnings: $('warning-history'),
  clearWarnings: $('clear-warnings'), uploadFile: $('upload-file'), uploadName: $('upload-name'),
  uploadGo: $('upload-go'), uploadProgress: $('upload-progress'), uploadBar: $('upload-bar'),
  uploadStage: $('upload-stage'), uploadResult: $('upload-result'), summary: $('summary'),
  summaryBody: $('summary-body'), summaryClose: $('summary-close'), summaryNew: $('summary-new'),
  summaryDownload: $('summary-download'), toast: $('toast'),
  peopleSelect: $('people-select'), peopleCards: $('people-cards'),
};

// Everything the page measures; bench/browser_pose.py and the tests read it.
export const stats = window.repsenseStats = {
  mode: FORCE_FRAMES ? 'frames' : 'landmarks', model: MODEL, modelReady: false, modelError: null,
  poseFrames: 0, poseFps: 0, inferMs: [], sent: 0, answered: 0, latencyMs: [], frameToEventMs: [],
  buffered: 0, posesMeasured: 0, connected: false, reconnects: 0, session: null, cameraStartedAt: null,
  cameraLabel: null, drawn: 0, playbackDrawn: 0, spoken: [], tones: 0, errors: [],
};

export const state = {
  catalogue: new Map(),          // name -> {name, display, hold, cues}
  plan: null,                    // the guided workout (live/plans.js PlanGuide), set by app.js
  ws: null, wsOpen: false, backoff: 0, reconnectTimer: null,
  session: null,                 // {id, demo, ending, resuming}
  wantStart: null,               // the start message to send once connected
  buffer: [],                    // poses measured while disconnected
  pending: new Map(),            // seq -> {sentAt, capturedAt}: for the latency figures
  unacked: [],                   // poses sent and not yet answered: sent again after a drop
  seq: 0, lastT: 0,
  landmarker: null, mode: FORCE_FRAMES ? 'frames' : 'landmarks', modeNote: FORCE_FRAMES ? 'forced by ?mode=frames' : '',
  stream: null, track: null, cameraError: null, lastVideoTime: -1, loopId: 0,
  worker: null, workerJobs: [], workerSeq: 0, workerLastTime: -1, lastMeta: null,
  frameInFlight: false, frameSentAt: 0,
  live: null, faultJoints: [], person: false,
  poseTimes: [],
  frames: 0,                     // poses the session has processed (answered)
  exercise: 'idle', count: 0, totalReps: 0, confidence: null,
  perExercise: new Map(),        // name -> {reps, good, sets: [reps...], lastRepAt}
  lastRepWall: 0,
  formUntil: 0, faultMessages: new Map(), faultSeverity: new Map(),
  hold: { held: 0, holding: false, good: null, at: 0 },
  recording: false, recordArmed: false, recorded: [], recordedFrames: 0,
  playback: null, playbackFrame: null,
  demo: null, muted: localStorage.getItem('repsense.muted') === '1', audio: null,
  warningsCount: 0,
};

export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

export const humanize = (code) => String(code || '').replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

export const displayName = (name) => state.catalogue.get(name)?.display || (name === 'idle' ? '—' : humanize(name));

export const fmtS = (s, digits = 1) => (s == null || !Number.isFinite(s) ? '–' : `${Number(s).toFixed(digits)} s`);

export const clock = (d = new Date()) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function mmss(seconds, tenths = false) {
  const s = Math.max(0, seconds || 0);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${(tenths ? rest.toFixed(1) : Math.floor(rest).toString()).padStart(tenths ? 4 : 2, '0')}`;
}

export function median(xs) {
  if (!xs.length) return null;
  const a = [...xs].sort((p, q) => p - q);
  return a[Math.floor((a.length - 1) / 2)];
}

export function pushCapped(arr, x, cap = 5000) { arr.push(x); if (arr.length > cap) arr.splice(0, arr.length - cap); }

// Pose times in epoch ms, strictly increasing (the server and the model both need that).
export function nextT(at = Date.now()) { state.lastT = Math.max(Math.round(at), state.lastT + 1); return state.lastT; }

export function withToken(path) {
  if (!TOKEN) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
}

let toastTimer = 0;

export function toast(text, kind = 'info') {
  el.toast.textContent = text;
  el.toast.dataset.kind = kind;
  el.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.toast.hidden = true; }, 5000);
}
