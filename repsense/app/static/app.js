// repsense live coach: camera -> pose (in the browser, or on the server in frames mode) -> the
// WebSocket /ws -> the engine's state and events -> the panels, voice and tone. Protocol: docs/web.md.

const params = new URLSearchParams(location.search);
const FORCE_FRAMES = params.get('mode') === 'frames';
const MODEL = params.get('model') === 'full' ? 'full' : 'lite';   // lite: see bench/browser_pose.py
const TOKEN = params.get('token');
// The model runs in a worker (pose_worker.js), fed the newest frame whenever it is free; ?worker=0
// runs it on the main thread. On the shared 2-core machine the worker gave 20-27 pose frames/s
// against 15-17 and the same or a shorter camera -> event time (bench/browser_pose.py).
const USE_WORKER = params.get('worker') !== '0' && typeof Worker !== 'undefined';
const WORKER_DEPTH = 1;
const MODEL_TIMEOUT_MS = 30000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const MAX_BUFFER = 30000;        // poses kept while disconnected (~16 min at 30 fps)
const BATCH = 300;               // poses per `poses` message (well under the 1 MB limit)
const SET_GAP_S = 30;            // a pause this long between reps starts a new set
const FORM_HOLD_MS = 4000;       // the form panel falls back to neutral after this
const FRAME_JPEG_WIDTH = 640;
const STORE_KEY = 'repsense.session';

const $ = (id) => document.getElementById(id);
const el = {
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
  rom: $('rom'), hold: document.querySelector('[data-testid="hold-timer"]'), holdTime: $('hold-time'),
  holdState: $('hold-state'), holdGood: $('hold-good'), warnings: $('warning-history'),
  clearWarnings: $('clear-warnings'), uploadFile: $('upload-file'), uploadName: $('upload-name'),
  uploadGo: $('upload-go'), uploadProgress: $('upload-progress'), uploadBar: $('upload-bar'),
  uploadStage: $('upload-stage'), uploadResult: $('upload-result'), summary: $('summary'),
  summaryBody: $('summary-body'), summaryClose: $('summary-close'), summaryNew: $('summary-new'),
  summaryDownload: $('summary-download'), toast: $('toast'),
};
const ctx = el.canvas.getContext('2d');

// Landmark pairs drawn as bones (MediaPipe's 33-point body); the face is drawn as points only.
const BONES = [
  [11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24],
  [23, 25], [25, 27], [24, 26], [26, 28], [27, 29], [29, 31], [27, 31], [28, 30], [30, 32],
  [28, 32], [15, 17], [15, 19], [17, 19], [16, 18], [16, 20], [18, 20], [15, 21], [16, 22],
];
const BODY_POINTS = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];
const FACE_POINTS = [0, 2, 5, 7, 8];
const PALETTE = {
  live: { bone: '#34d399', joint: '#ecfdf5' },
  playback: { bone: '#a78bfa', joint: '#f5d0fe' },
  fault: '#ff7a1a',
};

// Everything the page measures; bench/browser_pose.py and the tests read it.
const stats = window.repsenseStats = {
  mode: FORCE_FRAMES ? 'frames' : 'landmarks', model: MODEL, modelReady: false, modelError: null,
  poseFrames: 0, poseFps: 0, inferMs: [], sent: 0, answered: 0, latencyMs: [], frameToEventMs: [],
  buffered: 0, posesMeasured: 0, connected: false, reconnects: 0, session: null, cameraStartedAt: null,
  cameraLabel: null, drawn: 0, playbackDrawn: 0, spoken: [], tones: 0, errors: [],
};

const state = {
  catalogue: new Map(),          // name -> {name, display, hold, cues}
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

// ---------------------------------------------------------------------------------------------
// small helpers

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const humanize = (code) => String(code || '').replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
const displayName = (name) => state.catalogue.get(name)?.display || (name === 'idle' ? '—' : humanize(name));
const fmtS = (s, digits = 1) => (s == null || !Number.isFinite(s) ? '–' : `${Number(s).toFixed(digits)} s`);
const clock = (d = new Date()) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
function mmss(seconds, tenths = false) {
  const s = Math.max(0, seconds || 0);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${(tenths ? rest.toFixed(1) : Math.floor(rest).toString()).padStart(tenths ? 4 : 2, '0')}`;
}
function median(xs) {
  if (!xs.length) return null;
  const a = [...xs].sort((p, q) => p - q);
  return a[Math.floor((a.length - 1) / 2)];
}
function quantile(xs, q) {
  if (!xs.length) return null;
  const a = [...xs].sort((p, q2) => p - q2);
  return a[Math.min(a.length - 1, Math.floor(q * a.length))];
}
function pushCapped(arr, x, cap = 5000) { arr.push(x); if (arr.length > cap) arr.splice(0, arr.length - cap); }
// Pose times in epoch ms, strictly increasing (the server and the model both need that).
function nextT(at = Date.now()) { state.lastT = Math.max(Math.round(at), state.lastT + 1); return state.lastT; }
function withToken(path) {
  if (!TOKEN) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
}
let toastTimer = 0;
function toast(text, kind = 'info') {
  el.toast.textContent = text;
  el.toast.dataset.kind = kind;
  el.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.toast.hidden = true; }, 5000);
}

// ---------------------------------------------------------------------------------------------
// drawing

function sizeCanvas(w, h) {
  if (!w || !h) return;
  if (el.canvas.width !== w || el.canvas.height !== h) { el.canvas.width = w; el.canvas.height = h; }
  el.stage.style.setProperty('--aspect', `${w} / ${h}`);
}

function drawBackdrop() {
  const { width: w, height: h } = el.canvas;
  const g = ctx.createLinearGradient(0, 0, 0, h);
  g.addColorStop(0, '#121a33'); g.addColorStop(1, '#0a0f1f');
  ctx.fillStyle = g; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = 'rgba(148,163,184,0.08)'; ctx.lineWidth = 1;
  const step = Math.max(24, Math.round(w / 24));
  for (let x = step; x < w; x += step) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke(); }
  for (let y = step; y < h; y += step) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke(); }
}

function drawSkeleton(lm, colours, faults = []) {
  if (!lm) return false;
  const { width: w, height: h } = el.canvas;
  const scale = Math.max(w, h) / 640;
  const faulty = new Set(faults);
  const ok = (p) => p && Number.isFinite(p[0]) && Number.isFinite(p[1]) && (p[3] == null || p[3] > 0.25);
  ctx.lineCap = 'round';
  for (const [a, b] of BONES) {
    const p = lm[a]; const q = lm[b];
    if (!ok(p) || !ok(q)) continue;
    const bad = faulty.has(a) && faulty.has(b);
    ctx.strokeStyle = bad ? PALETTE.fault : colours.bone;
    ctx.lineWidth = (bad ? 6 : 4) * scale;
    ctx.globalAlpha = Math.min(1, 0.35 + Math.min(p[3] ?? 1, q[3] ?? 1));
    ctx.beginPath(); ctx.moveTo(p[0] * w, p[1] * h); ctx.lineTo(q[0] * w, q[1] * h); ctx.stroke();
  }
  ctx.globalAlpha = 1;
  for (const i of [...BODY_POINTS, ...FACE_POINTS]) {
    const p = lm[i];
    if (!ok(p)) continue;
    const bad = faulty.has(i);
    const r = (bad ? 9 : (FACE_POINTS.includes(i) ? 2.5 : 4.5)) * scale;
    if (bad) {
      ctx.fillStyle = 'rgba(255,122,26,0.28)';
      ctx.beginPath(); ctx.arc(p[0] * w, p[1] * h, r * 2.2, 0, Math.PI * 2); ctx.fill();
    }
    ctx.fillStyle = bad ? PALETTE.fault : colours.joint;
    ctx.beginPath(); ctx.arc(p[0] * w, p[1] * h, r, 0, Math.PI * 2); ctx.fill();
  }
  return true;
}

function redraw() {
  ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
  const noVideo = state.demo || !state.stream || state.cameraError;
  if (noVideo && (state.demo || state.playbackFrame)) drawBackdrop();
  if (drawSkeleton(state.live, PALETTE.live, state.faultJoints)) {
    stats.drawn += 1; el.canvas.dataset.drawn = String(stats.drawn);
  }
  if (drawSkeleton(state.playbackFrame, PALETTE.playback)) {
    stats.playbackDrawn += 1; el.canvas.dataset.playbackDrawn = String(stats.playbackDrawn);
  }
}

// ---------------------------------------------------------------------------------------------
// sound: spoken cues and the good-rep tone

function setMuted(muted) {
  state.muted = muted;
  localStorage.setItem('repsense.muted', muted ? '1' : '0');
  el.mute.setAttribute('aria-pressed', String(muted));
  document.body.classList.toggle('muted-sound', muted);
  if (muted && 'speechSynthesis' in window) window.speechSynthesis.cancel();
}

function unlockAudio() {
  try {
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (state.audio.state === 'suspended') state.audio.resume();
  } catch { state.audio = null; }
}

function tone() {
  stats.tones += 1;
  if (state.muted || !state.audio) return;
  const t0 = state.audio.currentTime;
  const osc = state.audio.createOscillator();
  const gain = state.audio.createGain();
  osc.type = 'sine'; osc.frequency.value = 1320;
  gain.gain.setValueAtTime(0.0001, t0);
  gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.16);
  osc.connect(gain).connect(state.audio.destination);
  osc.start(t0); osc.stop(t0 + 0.18);
}

function speak(text) {
  stats.spoken.push(text);
  if (state.muted || !('speechSynthesis' in window) || !text) return;
  const synth = window.speechSynthesis;
  if (synth.speaking || synth.pending) synth.cancel();   // say the newest cue, not a queue
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.05;
  synth.speak(u);
}

// ---------------------------------------------------------------------------------------------
// the panels

function setForm(kind, title, text) {
  el.formPanel.dataset.state = kind;
  el.stage.dataset.form = kind;
  el.formTitle.textContent = title;
  el.formText.textContent = text;
  state.formUntil = kind === 'neutral' ? 0 : performance.now() + FORM_HOLD_MS;
}

function renderExercise() {
  const name = state.exercise;
  el.exercise.textContent = name === 'idle' ? (state.session ? 'Looking…' : '—') : displayName(name);
  el.exercise.dataset.exercise = name;
  const chosen = el.exSelect.value !== 'auto' || (state.session?.exercise && state.session.exercise !== 'auto');
  if (chosen) {
    el.conf.textContent = 'chosen';
    el.confBar.style.width = '100%';
  } else if (state.confidence != null && name !== 'idle') {
    const pct = Math.round(state.confidence * 100);
    el.conf.textContent = `auto · ${pct}% sure`;
    el.confBar.style.width = `${pct}%`;
  } else {
    el.conf.textContent = 'auto-detect';
    el.confBar.style.width = '0%';
  }
  el.hudEx.textContent = name === 'idle' ? 'reps' : displayName(name).toLowerCase();
}

function currentSet(name) {
  const ex = state.perExercise.get(name);
  if (!ex || !ex.sets.length) return { n: 1, reps: 0 };
  return { n: ex.sets.length, reps: ex.sets[ex.sets.length - 1] };
}

const isHold = (name) => !!state.catalogue.get(name)?.hold;

function heldNow() {
  const h = state.hold;
  return h.held + (h.holding ? (performance.now() - h.at) / 1000 : 0);
}

function renderCounts() {
  // A hold (plank) shows its time where a rep exercise shows its count.
  const hold = isHold(state.exercise);
  el.count.textContent = hold ? mmss(heldNow()) : String(state.count);
  el.count.classList.toggle('is-hold', hold);
  $('count-label').textContent = hold ? 'Hold' : 'Reps';
  el.count.dataset.count = String(state.count);
  el.count.dataset.total = String(state.totalReps);
  el.hudCount.textContent = hold ? mmss(heldNow()) : String(state.count);
  const set = currentSet(state.exercise);
  el.setLine.textContent = hold ? (state.hold.holding ? 'Holding' : 'Hold time')
    : `Set ${set.n} · ${set.reps} rep${set.reps === 1 ? '' : 's'}`;
  el.totalLine.textContent = `${state.totalReps} rep${state.totalReps === 1 ? '' : 's'} in this session`;
  const rows = [];
  for (const [name, ex] of state.perExercise) {
    if (!ex.reps && !ex.hold) continue;
    const sets = ex.sets.length > 1 ? `<small>sets ${ex.sets.join(' + ')}</small>` : '';
    const what = ex.reps ? `<b>${ex.reps}</b> <small>${ex.good} good</small>` : `<b>${ex.hold.toFixed(1)} s</b> <small>held</small>`;
    rows.push(`<li data-exercise="${esc(name)}" data-reps="${ex.reps}"><span>${esc(displayName(name))}</span>${sets}<span class="per-ex-n">${what}</span></li>`);
  }
  el.perEx.innerHTML = rows.join('');
}

function renderLastRep(rep) {
  if (!rep) {
    el.lastRep.dataset.rep = '0';
    el.score.textContent = '–'; el.scoreRing.style.setProperty('--score', 0);
    el.scoreRing.dataset.grade = '';
    for (const x of [el.tEcc, el.tPause, el.tCon, el.rom]) x.textContent = '–';
    for (const x of [el.barEcc, el.barPause, el.barCon, el.romBar]) x.style.width = '0';
    return;
  }
  el.lastRep.dataset.rep = String(rep.count ?? 0);
  const score = rep.form_score;
  el.score.textContent = score == null ? '–' : Math.round(score);
  el.scoreRing.style.setProperty('--score', score == null ? 0 : Math.round(score));
  el.scoreRing.dataset.grade = score == null ? '' : score >= 80 ? 'good' : score >= 50 ? 'ok' : 'bad';
  const ecc = rep.eccentric_s || 0; const pause = rep.pause_s || 0; const con = rep.concentric_s || 0;
  const total = Math.max(ecc + pause + con, 0.001);
  el.tEcc.textContent = fmtS(ecc); el.tPause.textContent = fmtS(pause); el.tCon.textContent = fmtS(con);
  el.barEcc.style.width = `${(100 * ecc) / total}%`;
  el.barPause.style.width = `${(100 * pause) / total}%`;
  el.barCon.style.width = `${(100 * con) / total}%`;
  if (rep.rom_pct != null) {
    el.rom.textContent = `${Math.round(rep.rom_pct)}%${rep.rom_deg != null ? ` · ${Math.round(rep.rom_deg)}°` : ''}`;
    el.romBar.style.width = `${Math.min(100, rep.rom_pct)}%`;
  } else {
    el.rom.textContent = rep.rom_deg != null ? `${Math.round(rep.rom_deg)}°` : '–';
    el.romBar.style.width = '0';
  }
}

function renderHold() {
  const h = state.hold;
  el.hold.dataset.holding = String(h.holding);
  el.hold.dataset.held = h.held.toFixed(1);
  el.holdTime.textContent = mmss(h.held + (h.holding ? (performance.now() - h.at) / 1000 : 0), true);
  el.holdState.textContent = h.holding ? 'Holding — keep it up' : h.held > 0 ? 'Hold ended' : 'Not holding';
  el.holdGood.textContent = h.good != null && h.held > 0 ? `${h.good.toFixed(1)} s in good form` : '';
}

function addWarning(text, severity = 'warning', sessionS = null, code = '') {
  if (!state.warningsCount) el.warnings.innerHTML = '';
  state.warningsCount += 1;
  el.warnings.dataset.count = String(state.warningsCount);
  const li = document.createElement('li');
  li.dataset.severity = severity;
  if (code) li.dataset.code = code;
  const when = sessionS != null ? `${clock()} · ${mmss(sessionS)}` : clock();
  li.innerHTML = `<time>${esc(when)}</time><span>${esc(text)}</span>`;
  el.warnings.prepend(li);
  while (el.warnings.children.length > 100) el.warnings.lastElementChild.remove();
}

function resetPanels() {
  state.exercise = 'idle'; state.count = 0; state.totalReps = 0; state.confidence = null;
  state.perExercise = new Map(); state.frames = 0; state.faultJoints = [];
  state.hold = { held: 0, holding: false, good: null, at: 0 };
  state.warningsCount = 0; el.warnings.dataset.count = '0';
  el.warnings.innerHTML = '<li class="empty">No warnings yet.</li>';
  state.recorded = []; state.recordedFrames = 0;
  renderExercise(); renderCounts(); renderLastRep(null); renderHold();
  setForm('neutral', 'Ready', 'Step into view: the whole body, side-on to the camera.');
  el.phase.textContent = '';
}

function exerciseTally(name) {
  if (!state.perExercise.has(name)) state.perExercise.set(name, { reps: 0, good: 0, sets: [], lastRepAt: 0, hold: 0 });
  return state.perExercise.get(name);
}

function onRep(ev) {
  const ex = exerciseTally(ev.exercise);
  const now = performance.now();
  if (!ex.sets.length || (ex.lastRepAt && now - ex.lastRepAt > SET_GAP_S * 1000)) ex.sets.push(0);
  ex.sets[ex.sets.length - 1] += 1;
  ex.reps += 1; ex.lastRepAt = now;
  if (ev.good) ex.good += 1;
  renderLastRep(ev);
  if (ev.good) {
    setForm('good', 'Good rep', `Rep ${ev.count}${ev.form_score != null ? ` · form ${Math.round(ev.form_score)}` : ''}. Keep it up.`);
    tone();
  } else {
    const code = (ev.faults || [])[0];
    const cue = state.faultMessages.get(code) || humanize(code);
    setForm('warn', `Rep ${ev.count}: ${humanize(code)}`, cue);
  }
  el.stage.classList.remove('pulse'); void el.stage.offsetWidth; el.stage.classList.add('pulse');
}

function onEvent(ev) {
  switch (ev.type) {
    case 'ExerciseDetected':
      state.confidence = ev.confidence ?? null;
      state.exercise = ev.exercise;
      renderExercise();
      if (ev.exercise !== 'idle') {
        const how = isHold(ev.exercise) ? 'Get into position: the timer runs while you hold it.'
          : el.exSelect.value === 'auto' && !state.demo ? 'Recognised. Counting your reps.' : 'Counting your reps.';
        setForm('neutral', displayName(ev.exercise), how);
      }
      break;
    case 'RepCompleted':
      onRep(ev);
      break;
    case 'FormWarning': {
      state.faultMessages.set(ev.code, ev.message);
      const sev = ev.severity || 'warning';
      state.faultSeverity.set(ev.code, sev);
      setForm(sev === 'info' ? 'neutral' : 'warn', sev === 'info' ? 'Tip' : humanize(ev.code), ev.message);
      addWarning(ev.message, sev, ev.timestamp_ms != null ? ev.timestamp_ms / 1000 : null, ev.code);
      speak(ev.message);
      break;
    }
    case 'HoldUpdated': {
      state.hold = { held: ev.held_s || 0, holding: !!ev.holding, good: ev.good_s ?? null, at: performance.now() };
      exerciseTally(ev.exercise).hold = ev.held_s || 0;
      renderHold(); renderCounts();
      break;
    }
    case 'SetCompleted': {
      const ex = exerciseTally(ev.exercise);
      ex.sets.push(0);
      break;
    }
    case 'PersonLost':
      setForm('neutral', 'Where did you go?', 'Step back into view: the whole body, side-on.');
      addWarning('Lost sight of you', 'info', ev.timestamp_ms / 1000, 'person_lost');
      break;
    default:
      break;
  }
}

function applyState(st) {
  if (!st) return;
  const changed = st.exercise !== state.exercise;
  state.exercise = st.exercise;
  state.count = st.count ?? 0;
  state.totalReps = st.total_reps ?? state.totalReps;
  state.faultJoints = st.fault_joints || [];
  state.person = !!st.person;
  el.phase.textContent = st.phase && st.phase !== 'idle' ? st.phase : '';
  el.phase.dataset.phase = st.phase || '';
  if (changed) renderExercise();
  renderCounts();
  // The current exercise's rules (catalogue) name a fault before its first spoken cue.
  const rules = new Map((state.catalogue.get(st.exercise)?.cues || []).map((c) => [c.code, c]));
  const severity = (c) => state.faultSeverity.get(c) || rules.get(c)?.severity;
  const serious = (st.faults || []).filter((c) => severity(c) !== 'info');
  if (serious.length && el.formPanel.dataset.state !== 'warn') {
    const code = serious[0];
    setForm('warn', humanize(code), state.faultMessages.get(code) || rules.get(code)?.cue || humanize(code));
  }
}

function restoreFromSummary(summary) {
  if (!summary) return;
  for (const ex of summary.exercises || []) {
    const t = exerciseTally(ex.name);
    t.reps = ex.reps || 0; t.good = ex.good_reps || 0; t.sets = t.reps ? [t.reps] : []; t.hold = ex.hold_s || 0;
    const last = (ex.reps_detail || []).slice(-1)[0];
    if (last) renderLastRep({ ...last, count: ex.reps });
    if (ex.hold_s) { state.hold = { held: ex.hold_s, holding: false, good: ex.hold_good_s ?? null, at: performance.now() }; renderHold(); }
  }
  for (const c of summary.cues || []) {
    state.faultMessages.set(c.code, c.message);
    addWarning(c.message, c.severity, c.t_s, c.code);
  }
  state.totalReps = summary.total_reps || 0;
  state.frames = Math.max(state.frames, summary.frames || 0);
  renderCounts();
}

// Ending closes a rep or hold in progress: the panels take the final figures from the summary.
function syncFromSummary(summary) {
  if (!summary) return;
  const byName = new Map();
  for (const ex of summary.exercises || []) {
    const v = byName.get(ex.name) || { reps: 0, good: 0, hold: 0 };
    v.reps += ex.reps || 0; v.good += ex.good_reps || 0; v.hold = Math.max(v.hold, ex.hold_s || 0);
    byName.set(ex.name, v);
  }
  for (const [name, v] of byName) {
    const t = exerciseTally(name);
    const diff = v.reps - t.reps;
    if (diff > 0) {
      if (!t.sets.length) t.sets.push(0);
      t.sets[t.sets.length - 1] += diff;
      if (name === state.exercise) state.count += diff;
    }
    t.reps = v.reps; t.good = v.good;
    if (v.hold) t.hold = v.hold;
  }
  if (summary.total_reps != null) state.totalReps = summary.total_reps;
  renderCounts();
}

// ---------------------------------------------------------------------------------------------
// the status line

function renderStatus() {
  const now = performance.now();
  while (state.poseTimes.length && now - state.poseTimes[0] > 2000) state.poseTimes.shift();
  const span = state.poseTimes.length > 1 ? (state.poseTimes[state.poseTimes.length - 1] - state.poseTimes[0]) / 1000 : 0;
  stats.poseFps = span > 0 ? (state.poseTimes.length - 1) / span : 0;
  const lat = median(stats.latencyMs.slice(-60));
  const f2e = median(stats.frameToEventMs.slice(-60));
  const where = state.demo ? 'demo: poses from the sample recording'
    : state.mode === 'frames' ? `pose on the server${state.modeNote ? ` (${state.modeNote})` : ''}`
      : `pose in the browser (${MODEL} model${state.worker ? ', worker' : ''})`;
  const parts = [];
  parts.push(state.wsOpen ? 'connected' : state.session ? `reconnecting${stats.buffered ? ` · ${stats.buffered} poses buffered` : ''}` : 'connecting');
  if (state.session) parts.push(`session ${state.session.id || '…'}`);
  parts.push(`${state.frames} frames processed`);
  parts.push(`${stats.poseFps.toFixed(1)} pose frames/s`);
  parts.push(`latency ${lat == null ? '–' : `${Math.round(lat)} ms`}${f2e == null ? '' : ` (camera → event ${Math.round(f2e)} ms)`}`);
  parts.push(where);
  el.status.textContent = parts.join(' · ');
  el.status.dataset.mode = state.demo ? 'demo' : state.mode;
  el.status.dataset.frames = String(state.frames);
  const conn = state.session ? (state.wsOpen ? 'live' : 'reconnecting') : (state.wsOpen ? 'ready' : 'offline');
  el.conn.textContent = conn;
  el.conn.dataset.state = conn;
  stats.connected = state.wsOpen;
  stats.session = state.session?.id ?? null;
  if (state.hold.holding) { renderHold(); renderCounts(); }
  if (state.recording) updateButtons();   // the recording's length grows
  if (state.formUntil && now > state.formUntil && !state.faultJoints.length) {
    setForm('neutral', state.session ? 'Keep going' : 'Ready', state.session ? 'Form looks steady.' : 'Start a session when you are in view.');
  }
}
setInterval(renderStatus, 250);

// ---------------------------------------------------------------------------------------------
// the WebSocket

function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  return withToken(`${proto}://${location.host}/ws`);
}

function connect() {
  if (state.ws && (state.ws.readyState === WebSocket.OPEN || state.ws.readyState === WebSocket.CONNECTING)) return;
  clearTimeout(state.reconnectTimer);
  const ws = new WebSocket(wsUrl());
  ws.binaryType = 'arraybuffer';
  state.ws = ws;
  ws.onopen = () => {
    state.wsOpen = true; state.backoff = 0;
    if (state.session && state.session.id) {
      ws.send(JSON.stringify({ ...startMessage(), session: state.session.id }));
      state.session.resuming = true;
    } else if (state.wantStart) {
      ws.send(JSON.stringify(state.wantStart));
    }
  };
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return;
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    onMessage(msg);
  };
  ws.onclose = (e) => {
    state.wsOpen = false; state.frameInFlight = false;
    if (state.ws !== ws) return;
    // Poses that may have died with the socket go again after the resume; the server drops the
    // ones it had already counted (their times are not after its last one).
    state.buffer = state.session ? state.unacked.concat(state.buffer) : [];
    state.unacked = [];
    stats.buffered = state.buffer.length;
    if (e.code === 4401) { toast('This server needs its access token: open the URL that `repsense serve` printed.', 'error'); return; }
    if (state.session || state.wantStart) scheduleReconnect();
  };
  ws.onerror = () => {};
}

function scheduleReconnect() {
  const delay = BACKOFF_MS[Math.min(state.backoff, BACKOFF_MS.length - 1)] * (0.8 + 0.4 * Math.random());
  state.backoff += 1; stats.reconnects += 1;
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(connect, delay);
}

function send(obj) {
  if (!state.wsOpen || !state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(obj));
  return true;
}

function flushBuffer() {
  while (state.buffer.length && state.wsOpen) {
    const frames = state.buffer.splice(0, BATCH);
    const last = frames[frames.length - 1];
    state.unacked.push(...frames);
    state.pending.set(last.seq, { sentAt: performance.now(), capturedAt: null });
    send({ type: 'poses', frames });
  }
  stats.buffered = state.buffer.length;
}

function startMessage() {
  const demo = state.demo;
  return {
    type: 'start',
    exercise: demo ? demo.exercise : (el.exSelect.value || 'auto'),
    width: demo ? demo.width : (el.video.videoWidth || el.canvas.width || 640),
    height: demo ? demo.height : (el.video.videoHeight || el.canvas.height || 480),
    mode: demo ? 'landmarks' : state.mode,
    source: demo ? 'demo (bundled sample recording)' : (stats.cameraLabel || 'browser camera'),
    // whose session: ?profile= or the one picked on the history page (the server's default else)
    profile: new URLSearchParams(location.search).get('profile') || localStorage.getItem('repsense.profile') || undefined,
  };
}

function onMessage(msg) {
  switch (msg.type) {
    case 'started': {
      const resumed = !!msg.resumed;
      state.session = { id: msg.session, demo: !!state.demo, ending: false, exercise: msg.exercise };
      state.wantStart = null;
      if (!state.demo) sessionStorage.setItem(STORE_KEY, msg.session);
      if (!resumed) {
        resetPanels();
        setForm('neutral', 'Session on', 'Whole body in view, side-on to the camera works best.');
      } else {
        if (!state.perExercise.size) restoreFromSummary(msg.summary);
        toast('Session resumed: nothing counted was lost.');
      }
      applyState(msg.state);
      state.recording = !!msg.recording;
      if (state.recordArmed && !state.recording) {
        send({ type: 'record', on: true });
        state.recording = true; state.recorded = []; state.lastRecordedSession = msg.session;
      }
      flushBuffer();
      if (state.endAfterResume) { state.endAfterResume = false; endSession(); }
      updateButtons();
      break;
    }
    case 'frame': {
      const p = state.pending.get(msg.seq);
      const now = performance.now();
      if (p) {
        pushCapped(stats.latencyMs, now - p.sentAt);
        if (p.capturedAt != null) pushCapped(stats.frameToEventMs, now - p.capturedAt);
        for (const k of state.pending.keys()) { if (k === msg.seq) break; state.pending.delete(k); }
        state.pending.delete(msg.seq);
      }
      if (state.mode === 'frames' && !state.demo && msg.landmarks !== undefined) {
        state.frameInFlight = false;
        pushCapped(stats.latencyMs, now - state.frameSentAt);
        pushCapped(stats.frameToEventMs, now - state.frameSentAt);
        state.live = msg.landmarks;
        stats.poseFrames += 1; state.poseTimes.push(now);
        recordLocal(msg.t, msg.landmarks);
      }
      stats.answered += 1;
      if (typeof msg.seq === 'number') {
        let n = 0;
        while (state.unacked.length && state.unacked[0].seq <= msg.seq) { state.unacked.shift(); n += 1; }
        state.frames += n;
      } else state.frames += 1;
      for (const ev of msg.events || []) onEvent(ev);
      applyState(msg.state);
      redraw();
      break;
    }
    case 'recording':
      state.recording = !!msg.on;
      state.recordedFrames = msg.frames || 0;
      updateButtons();
      break;
    case 'ended': {
      const id = msg.session;
      syncFromSummary(msg.summary);
      state.session = null;
      sessionStorage.removeItem(STORE_KEY);
      state.recording = false; state.recordArmed = false;
      showSummary(msg.summary, id);
      updateButtons();
      break;
    }
    case 'error':
      stats.errors.push(msg);
      if (msg.code === 'ended' || msg.code === 'no_session') {
        if (state.session?.resuming) {
          toast('That session had already ended; start a new one.', 'error');
          state.session = null; sessionStorage.removeItem(STORE_KEY); updateButtons();
        }
      } else if (msg.code === 'pose_failed' && state.mode === 'frames') {
        state.frameInFlight = false;
        toast(`The server could not run the pose model: ${msg.message}`, 'error');
      } else if (msg.code !== 'bad_time') {
        toast(`Server: ${msg.message}`, 'error');
      }
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// poses out

function recordLocal(t, landmarks) {
  if (state.recording) state.recorded.push({ t, landmarks });
}

function sendPose(t, landmarks, capturedAt) {
  const seq = ++state.seq;
  const frame = { t, landmarks, seq };
  recordLocal(t, landmarks);
  stats.posesMeasured += 1;
  if (state.wsOpen && state.session && !state.session.resuming && state.buffer.length === 0) {
    state.pending.set(seq, { sentAt: performance.now(), capturedAt });
    if (state.pending.size > 500) state.pending.delete(state.pending.keys().next().value);
    state.unacked.push(frame);
    if (state.unacked.length > MAX_BUFFER) state.unacked.shift();
    send({ type: 'pose', ...frame });
    stats.sent += 1;
  } else {
    state.buffer.push(frame);
    if (state.buffer.length > MAX_BUFFER) state.buffer.shift();
    stats.buffered = state.buffer.length;
  }
}

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
      const lm = result && result.landmarks && result.landmarks.length ? toRows(result.landmarks[0]) : null;
      stats.poseFrames += 1; state.poseTimes.push(performance.now());
      state.live = lm;
      if (!lm) state.faultJoints = [];
      if (sessionLive()) sendPose(t, lm, capturedAt);
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

// ---------------------------------------------------------------------------------------------
// the camera

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

async function listCameras(selected) {
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

async function openCamera(deviceId) {
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

// ---------------------------------------------------------------------------------------------
// the pose model in the browser

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
      model: withToken(`/models/pose_landmarker_${MODEL}.task`),
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
  if (!m.landmarks) state.faultJoints = [];
  if (sessionLive()) sendPose(job.t, m.landmarks, job.capturedAt);
  redraw();
  submitToWorker();
}

async function loadModel() {
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
        runningMode: 'VIDEO', numPoses: 1,
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

// ---------------------------------------------------------------------------------------------
// sessions

function updateButtons() {
  const live = !!state.session;
  const ready = state.mode === 'frames' || !!state.landmarker || !!state.worker;
  el.start.disabled = live || !!state.wantStart || !ready || !!state.cameraError || !state.stream || !!state.demo;
  el.start.dataset.ready = String(!el.start.disabled);
  el.end.disabled = !live || !!state.demo;
  el.demo.textContent = state.demo ? '■ Stop the demo' : '▶ Try the demo';
  el.demo.disabled = live && !state.demo;
  el.exSelect.disabled = live;
  el.rec.textContent = state.recording ? '■ Stop recording' : state.recordArmed ? '● Recording armed' : '● Record poses';
  el.rec.setAttribute('aria-pressed', String(state.recording || state.recordArmed));
  el.rec.classList.toggle('on', state.recording);
  el.hudRec.hidden = !state.recording;
  el.play.disabled = !state.recorded.length;
  el.play.textContent = state.playback ? '■ Stop playback' : `▶ Play back${state.recorded.length ? ` (${(durationOf(state.recorded) / 1000).toFixed(1)} s)` : ''}`;
  el.hudPlay.hidden = !state.playback;
  const sid = state.lastRecordedSession;
  if (sid) {
    el.download.href = withToken(`/api/sessions/${encodeURIComponent(sid)}/recording.npz`);
    el.download.setAttribute('aria-disabled', 'false');
  } else {
    el.download.removeAttribute('href');
    el.download.setAttribute('aria-disabled', 'true');
  }
  el.recInfo.textContent = state.recording ? `Recording the pose stream · ${state.recorded.length} poses`
    : state.recorded.length ? `${state.recorded.length} poses recorded (${(durationOf(state.recorded) / 1000).toFixed(1)} s)`
      : state.recordArmed ? 'Recording starts with the session.'
        : 'Recording keeps the pose stream (no video) so you can replay and analyse it.';
  el.hudCountBox.hidden = !live && !state.totalReps;
  el.hudBadge.hidden = !state.demo && !live;
  el.hudBadge.textContent = state.demo ? 'DEMO' : live ? 'LIVE' : '';
  el.hudBadge.dataset.kind = state.demo ? 'demo' : 'live';
  document.body.classList.toggle('in-session', live);
}

function startSession() {
  unlockAudio();
  closeSummary();
  stopPlayback();
  state.buffer = []; state.unacked = []; state.pending.clear(); stats.buffered = 0; stats.posesMeasured = 0;
  state.wantStart = startMessage();
  if (state.wsOpen) send(state.wantStart); else connect();
  updateButtons();
}

function endSession() {
  if (!state.session) return;
  state.session.ending = true;
  if (state.recording) { send({ type: 'record', on: false }); }
  if (!state.wsOpen) { state.endAfterResume = true; toast('Ending the session as soon as the connection is back…'); return; }
  flushBuffer();
  send({ type: 'end' });
}

// ---------------------------------------------------------------------------------------------
// the demo: the bundled recording through the same live path

async function toggleDemo() {
  if (state.demo) { stopDemo(true); return; }
  unlockAudio();
  closeSummary();
  stopPlayback();
  let data;
  try {
    const r = await fetch(withToken('/api/demo'));
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    data = await r.json();
  } catch (err) { toast(`The demo could not load: ${err.message}`, 'error'); return; }
  if (!data.frames || !data.frames.length) { toast('The demo recording is empty.', 'error'); return; }
  // The sample is known to be squats: with "Auto-detect" chosen the demo counts it as squats
  // (the recogniser needs a longer run-in than the 17 s clip gives it).
  const exercise = el.exSelect.value !== 'auto' ? el.exSelect.value : (data.exercise || 'auto');
  state.demo = { width: data.width || 640, height: data.height || 480, frames: data.frames, i: 0, timer: 0, t0: 0, exercise };
  sizeCanvas(state.demo.width, state.demo.height);
  el.stage.classList.add('demo');
  state.live = null;
  state.buffer = []; state.unacked = []; state.pending.clear(); stats.posesMeasured = 0;
  state.wantStart = startMessage();
  if (state.wsOpen) send(state.wantStart); else connect();
  updateButtons();
  const waitStarted = () => {
    if (!state.demo) return;
    if (state.session && state.session.demo) { state.demo.t0 = performance.now(); state.demo.wall0 = Date.now(); demoStep(); } else setTimeout(waitStarted, 50);
  };
  waitStarted();
}

function demoStep() {
  const d = state.demo;
  if (!d) return;
  const first = d.frames[0].t;
  const elapsed = performance.now() - d.t0;
  while (d.i < d.frames.length && d.frames[d.i].t - first <= elapsed) {
    const f = d.frames[d.i++];
    state.live = f.landmarks;
    stats.poseFrames += 1; state.poseTimes.push(performance.now());
    // The recording's own timing, so the demo counts the same on a busy machine.
    if (state.session && !state.session.ending) sendPose(nextT(d.wall0 + (f.t - first)), f.landmarks, performance.now());
  }
  redraw();
  if (d.i >= d.frames.length) { stopDemo(false); return; }
  d.timer = setTimeout(demoStep, 15);
}

function stopDemo(early) {
  const d = state.demo;
  if (!d) return;
  clearTimeout(d.timer);
  if (state.session) endSession();
  state.demo = null;
  state.live = null;
  el.stage.classList.remove('demo');
  if (el.video.videoWidth) sizeCanvas(el.video.videoWidth, el.video.videoHeight);
  redraw();
  if (early) toast('Demo stopped.');
  updateButtons();
}

// ---------------------------------------------------------------------------------------------
// recording and playback

function durationOf(frames) { return frames.length > 1 ? frames[frames.length - 1].t - frames[0].t : 0; }

function toggleRecord() {
  if (!state.session) {
    state.recordArmed = !state.recordArmed;
    updateButtons();
    return;
  }
  const on = !state.recording;
  // The server appends to one recording per session: so does the page.
  if (on && state.lastRecordedSession !== state.session.id) state.recorded = [];
  state.recordArmed = on;
  send({ type: 'record', on });
  state.recording = on;   // the `recording` answer confirms it
  if (on) state.lastRecordedSession = state.session.id;
  updateButtons();
}

function stopPlayback() {
  if (!state.playback) return;
  cancelAnimationFrame(state.playback.raf);
  state.playback = null; state.playbackFrame = null;
  redraw(); updateButtons();
}

function togglePlayback() {
  if (state.playback) { stopPlayback(); return; }
  const frames = state.recorded.slice();
  if (!frames.length) return;
  state.playback = { frames, i: 0, t0: performance.now(), raf: 0 };
  if (!state.stream || state.cameraError) sizeCanvas(el.canvas.width || 640, el.canvas.height || 480);
  const step = () => {
    const p = state.playback;
    if (!p) return;
    const elapsed = performance.now() - p.t0;
    while (p.i < p.frames.length - 1 && p.frames[p.i + 1].t - p.frames[0].t <= elapsed) p.i += 1;
    state.playbackFrame = p.frames[p.i].landmarks;
    redraw();
    if (p.i >= p.frames.length - 1) { setTimeout(stopPlayback, 400); return; }
    p.raf = requestAnimationFrame(step);
  };
  updateButtons();
  step();
}

// ---------------------------------------------------------------------------------------------
// the summary

function showSummary(summary, id) {
  summary = summary || {};
  const exercises = summary.exercises || [];
  const total = summary.total_reps ?? exercises.reduce((a, e) => a + (e.reps || 0), 0);
  const good = summary.good_reps ?? exercises.reduce((a, e) => a + (e.good_reps || 0), 0);
  // Faults by the reps they marked, and the cues said (a fault can be cued between reps).
  const faults = new Map();
  const said = new Map();
  for (const e of exercises) for (const [code, n] of Object.entries(e.faults || {})) faults.set(code, (faults.get(code) || 0) + n);
  for (const c of summary.cues || []) {
    state.faultMessages.set(c.code, c.message);
    said.set(c.code, (said.get(c.code) || 0) + 1);
    if (!faults.has(c.code)) faults.set(c.code, 0);
  }
  const topFaults = [...faults.entries()].sort((a, b) => (b[1] - a[1]) || ((said.get(b[0]) || 0) - (said.get(a[0]) || 0))).slice(0, 6);
  const faultLine = ([c, n]) => {
    const bits = [];
    if (n) bits.push(`${n} rep${n === 1 ? '' : 's'}`);
    if (said.get(c)) bits.push(`said ${said.get(c)}×`);
    return `<li data-code="${esc(c)}"><b>${esc(humanize(c))}</b> <span class="fault-n">${bits.join(' · ')}</span><span class="muted"> — ${esc(state.faultMessages.get(c) || '')}</span></li>`;
  };
  const holds = exercises.filter((e) => e.hold_s);
  const rows = exercises.map((e) => `<tr data-exercise="${esc(e.name)}"><td>${esc(displayName(e.name))}</td><td>${e.reps || 0}</td>`
    + `<td>${e.good_reps || 0}</td><td>${Math.max(0, (e.reps || 0) - (e.good_reps || 0))}</td>`
    + `<td>${e.hold_s ? `${e.hold_s.toFixed(1)} s` : '–'}</td></tr>`).join('');
  el.summaryBody.innerHTML = `
    <div class="stat-grid">
      <div class="stat"><b data-testid="summary-total">${total}</b><span>reps</span></div>
      <div class="stat good"><b>${good}</b><span>good</span></div>
      <div class="stat warn"><b>${Math.max(0, total - good)}</b><span>faulty</span></div>
      <div class="stat"><b>${fmtS(summary.time_under_tension_s)}</b><span>time under tension</span></div>
      <div class="stat"><b>${mmss(summary.duration_s || 0)}</b><span>session length</span></div>
    </div>
    ${exercises.length ? `<table class="table"><thead><tr><th>Exercise</th><th>Reps</th><th>Good</th><th>Faulty</th><th>Hold</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="muted">No reps or holds were counted in this session.</p>'}
    ${holds.length ? `<h3>Holds</h3><ul class="plain">${holds.map((e) => `<li>${esc(displayName(e.name))}: <b>${e.hold_s.toFixed(1)} s</b>${e.hold_good_s != null ? ` (${e.hold_good_s.toFixed(1)} s in good form)` : ''}</li>`).join('')}</ul>` : ''}
    <h3>Most frequent faults and tips</h3>
    ${topFaults.length ? `<ul class="plain faults">${topFaults.map(faultLine).join('')}</ul>`
    : '<p class="muted">None — every counted rep was clean.</p>'}`;
  el.summary.dataset.total = String(total);
  el.summary.dataset.session = id || '';
  if (state.recordedFrames || state.recorded.length) {
    el.summaryDownload.href = withToken(`/api/sessions/${encodeURIComponent(id)}/recording.npz`);
    el.summaryDownload.hidden = false;
  } else el.summaryDownload.hidden = true;
  el.summary.hidden = false;
}

function closeSummary() { el.summary.hidden = true; }

// ---------------------------------------------------------------------------------------------
// uploading a video

function setUploadProgress(fraction, text, status) {
  el.uploadProgress.hidden = false;
  el.uploadProgress.dataset.status = status;
  el.uploadBar.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  el.uploadStage.textContent = text;
}

function uploadVideo() {
  const file = el.uploadFile.files && el.uploadFile.files[0];
  if (!file) return;
  el.uploadGo.disabled = true;
  el.uploadResult.hidden = true;
  const exercise = el.exSelect.value || 'auto';
  const xhr = new XMLHttpRequest();
  xhr.open('POST', withToken(`/api/analyze?name=${encodeURIComponent(file.name)}&exercise=${encodeURIComponent(exercise)}`));
  xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) setUploadProgress(0.15 * e.loaded / e.total, `Uploading ${Math.round(100 * e.loaded / e.total)}%`, 'uploading'); };
  xhr.onerror = () => { setUploadProgress(0, 'The upload failed: no connection to the server.', 'failed'); el.uploadGo.disabled = false; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* keep {} */ }
    if (xhr.status !== 202 || !body.job) {
      setUploadProgress(0, body.error || `The upload was refused (HTTP ${xhr.status}).`, 'failed');
      el.uploadGo.disabled = false;
      return;
    }
    pollJob(body.job);
  };
  setUploadProgress(0, 'Uploading…', 'uploading');
  xhr.send(file);
}

async function pollJob(job) {
  let doc;
  try {
    const r = await fetch(withToken(`/api/analyze/${encodeURIComponent(job)}`), { cache: 'no-store' });
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || `HTTP ${r.status}`);
  } catch (err) {
    setUploadProgress(0, `Lost track of the analysis: ${err.message}`, 'failed'); el.uploadGo.disabled = false; return;
  }
  if (doc.status === 'failed') {
    setUploadProgress(1, doc.error || 'The analysis failed.', 'failed'); el.uploadGo.disabled = false; return;
  }
  if (doc.status !== 'done') {
    const f = 0.15 + 0.85 * (doc.progress || 0);
    setUploadProgress(f, `${doc.status === 'queued' ? 'Waiting for the analyser' : humanize(doc.stage || 'analysing')} · ${Math.round(f * 100)}%`, doc.status);
    setTimeout(() => pollJob(job), 500);
    return;
  }
  setUploadProgress(1, 'Done', 'done');
  renderUploadResult(doc);
  el.uploadGo.disabled = false;
}

function renderUploadResult(doc) {
  const r = doc.report || {};
  const exercises = r.exercises || [];
  const faults = new Map();
  for (const e of exercises) for (const [c, n] of Object.entries(e.faults || {})) faults.set(c, (faults.get(c) || 0) + n);
  const cueFor = new Map((r.cues || []).map((c) => [c.code, c.message]));
  const repRows = [];
  for (const e of exercises) {
    (e.reps_detail || []).forEach((d, i) => {
      repRows.push(`<tr class="${d.good ? '' : 'bad'}"><td>${esc(displayName(e.name))}</td><td>${i + 1}</td><td>${d.start_s.toFixed(1)}–${d.end_s.toFixed(1)} s</td>`
        + `<td>${d.eccentric_s.toFixed(2)}</td><td>${(d.pause_s || 0).toFixed(2)}</td><td>${d.concentric_s.toFixed(2)}</td>`
        + `<td>${d.rom_pct != null ? `${Math.round(d.rom_pct)}%` : `${Math.round(d.rom_deg)}°`}</td>`
        + `<td>${d.form_score != null ? Math.round(d.form_score) : '–'}</td><td>${(d.faults || []).map((f) => esc(humanize(f.code))).join(', ') || '–'}</td></tr>`);
    });
  }
  const counts = exercises.map((e) => `<div class="stat" data-exercise="${esc(e.name)}"><b>${e.reps ? e.reps : `${(e.hold_s || 0).toFixed(1)} s`}</b><span>${esc(displayName(e.name))}${e.reps ? ` · ${e.good_reps} good` : ' held'}</span></div>`).join('');
  el.uploadResult.innerHTML = `
    <div class="stat-grid">
      <div class="stat"><b data-testid="upload-total">${r.total_reps ?? 0}</b><span>reps in ${esc(doc.name || r.path || 'the video')}</span></div>
      ${counts}
    </div>
    <div class="upload-media">
      <figure>${doc.video ? `<video controls playsinline muted preload="auto" data-testid="upload-video" src="${esc(withToken(doc.video))}"></video>` : '<p class="muted">No annotated video.</p>'}
        <figcaption>Annotated video: skeleton, count and cues.</figcaption></figure>
      <figure>${doc.plot ? `<img data-testid="upload-plot" alt="The driving signal with the reps marked" src="${esc(withToken(doc.plot))}">` : '<p class="muted">No plot.</p>'}
        <figcaption>The signal that drives the count, reps marked.</figcaption></figure>
    </div>
    <h3>Every rep</h3>
    ${repRows.length ? `<div class="table-wrap"><table class="table" data-testid="upload-reps"><thead><tr><th>Exercise</th><th>#</th><th>When</th><th>Ecc. s</th><th>Pause s</th><th>Con. s</th><th>ROM</th><th>Form</th><th>Faults</th></tr></thead><tbody>${repRows.join('')}</tbody></table></div>`
    : '<p class="muted">No reps were counted.</p>'}
    <h3>Faults</h3>
    ${faults.size ? `<ul class="plain faults" data-testid="upload-faults">${[...faults.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `<li><b>${esc(humanize(c))}</b> ×${n}<span class="muted"> — ${esc(cueFor.get(c) || '')}</span></li>`).join('')}</ul>`
    : '<p class="muted" data-testid="upload-faults">No faults.</p>'}`;
  el.uploadResult.hidden = false;
  el.uploadResult.dataset.total = String(r.total_reps ?? 0);
}

// ---------------------------------------------------------------------------------------------
// wiring

el.start.addEventListener('click', startSession);
el.end.addEventListener('click', endSession);
el.demo.addEventListener('click', toggleDemo);
el.rec.addEventListener('click', toggleRecord);
el.play.addEventListener('click', togglePlayback);
el.mute.addEventListener('click', () => { unlockAudio(); setMuted(!state.muted); });
el.camera.addEventListener('change', () => openCamera(el.camera.value));
el.exSelect.addEventListener('change', renderExercise);
el.clearWarnings.addEventListener('click', () => { state.warningsCount = 0; el.warnings.dataset.count = '0'; el.warnings.innerHTML = '<li class="empty">No warnings yet.</li>'; });
el.summaryClose.addEventListener('click', closeSummary);
el.summaryNew.addEventListener('click', () => { closeSummary(); resetPanels(); updateButtons(); });
el.summary.addEventListener('click', (e) => { if (e.target === el.summary) closeSummary(); });
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeSummary(); });
el.uploadFile.addEventListener('change', () => {
  const f = el.uploadFile.files && el.uploadFile.files[0];
  el.uploadName.textContent = f ? `${f.name} · ${(f.size / 1e6).toFixed(1)} MB` : 'No file chosen';
  el.uploadGo.disabled = !f;
});
el.uploadGo.addEventListener('click', uploadVideo);
el.download.addEventListener('click', (e) => { if (el.download.getAttribute('aria-disabled') === 'true') e.preventDefault(); });
navigator.mediaDevices?.addEventListener?.('devicechange', () => listCameras(el.camera.value));
window.addEventListener('online', () => { if (state.session && !state.wsOpen) connect(); });

async function loadCatalogue() {
  try {
    const r = await fetch(withToken('/api/exercises'));
    const list = await r.json();
    for (const ex of list) state.catalogue.set(ex.name, ex);
    const opts = ['<option value="auto">Auto-detect</option>'];
    for (const ex of [...list].sort((a, b) => (a.display || a.name).localeCompare(b.display || b.name))) {
      opts.push(`<option value="${esc(ex.name)}">${esc(ex.display || humanize(ex.name))}${ex.hold ? ' (hold)' : ''}</option>`);
    }
    opts.push('<option value="generic">Any movement (generic)</option>');
    el.exSelect.innerHTML = opts.join('');
    const wanted = params.get('exercise');
    if (wanted && [...el.exSelect.options].some((o) => o.value === wanted)) el.exSelect.value = wanted;
  } catch { toast('Could not load the exercise list.', 'error'); }
  renderExercise();
}

async function main() {
  setMuted(state.muted);
  resetPanels();
  updateButtons();
  const resumeId = sessionStorage.getItem(STORE_KEY);
  await Promise.all([loadCatalogue(), loadModel(), openCamera(null)]);
  if (resumeId) {
    state.session = { id: resumeId, demo: false, ending: false, resuming: true };
    toast('Resuming your session…');
  }
  connect();
  updateButtons();
  renderStatus();
  document.body.dataset.ready = 'true';
}

main();
