// repsense phone sensors page: the phone's motion sensors -> raw rows over the WebSocket /ws
// (a `sensors` session, docs/web.md) -> the server's IMU engine -> count, set, last rep, voice, tone.
// The page only reads the sensors and sends what they give: the conversion to the model's units,
// frames and 10 Hz grid is the server's (repsense/imu/browser.py), one implementation for all.

import { setMuted, speak, tone, unlockAudio, useSound } from './live/sound.js';

const SEND_EVERY_MS = 250;          // a motion message this often
const MAX_ROWS = 30000;             // rows in one message (the server's limit)
const MAX_KEPT = 30 * 60 * 100;     // rows kept while the server is away (30 min at 100 Hz)
const NO_EVENTS_MS = 2000;          // no event this long after start: the browser gives none
const STALL_MS = 1500;              // events stopped this long: the phone slept or hid the page
const LOW_RATE_HZ = 20;             // below this the 100 ms steps get thin
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const SESSION_KEY = 'repsense.sensors.session';
const NAMES = { burpee: 'Burpees', squat: 'Squats', sit_up: 'Sit-ups', idle: '—' };

const params = new URLSearchParams(location.search);
const TOKEN = params.get('token');
const $ = (id) => document.getElementById(id);
const el = {
  start: $('start'), end: $('end'), conn: $('conn'), mute: $('mute'),
  msg: $('msg'), msgTitle: $('msg-title'), msgText: $('msg-text'),
  exercise: $('exercise'), phase: $('phase'), count: $('rep-count'), setLine: $('set-line'),
  totalLine: $('total-line'), last: $('last-rep'), lastCard: document.querySelector('[data-testid="last-rep"]'),
  rate: $('rate'), samples: $('samples'), buffered: $('buffered'),
  joinBox: $('join-box'), joinList: $('join-list'), summary: $('summary'), summaryBody: $('summary-body'),
  again: $('again'),
};

const state = {
  running: false, session: sessionStorage.getItem(SESSION_KEY), join: params.get('join'),
  ws: null, wsOpen: false, backoff: 0, reconnectTimer: 0,
  rows: [], unacked: new Map(), seq: 0, orientation: null,
  startedAt: 0, lastEventAt: 0, events: 0, emptyEvents: 0, recent: [],
  hiddenAt: null, wakeLock: null, audio: null, muted: localStorage.getItem('repsense.muted') === '1',
  total: 0, setCount: 0, setNo: 1, exercise: 'idle', reps: 0, ending: false, paired: false,
  message: 'idle',
};
// what the tests read
const stats = { sent: 0, frames: 0, tones: 0, spoken: [] };
window.repsenseSensors = { state, stats };

function withToken(path) {
  if (!TOKEN) return path;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
}

// ---------------------------------------------------------------------------------------------
// messages on the page

function say(kind, title, text, code) {
  el.msg.dataset.state = kind;
  el.msg.dataset.code = code || kind;
  el.msgTitle.textContent = title;
  el.msgText.textContent = text;
  state.message = code || kind;
}

function setConn(s) { el.conn.dataset.state = s; el.conn.textContent = s; }

// ---------------------------------------------------------------------------------------------
// sound: the rep tone and spoken cues, the live page's (live/sound.js)

useSound(state, stats, el.mute);

// ---------------------------------------------------------------------------------------------
// the sensors

function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : null; }

function eventTime(e) {
  // DOMHighResTimeStamp since the page's time origin -> epoch ms (continues across reloads)
  const ts = e.timeStamp;
  return ts > 1e12 ? ts : performance.timeOrigin + ts;
}

function onOrientation(e) {
  if (num(e.beta) === null && num(e.gamma) === null) return;
  state.orientation = [num(e.alpha) ?? 0, num(e.beta), num(e.gamma)];
}

function onMotion(e) {
  const g = e.accelerationIncludingGravity;
  if (!g || num(g.x) === null) { state.emptyEvents += 1; return; }   // fired, but without data
  const a = e.acceleration || {};
  const r = e.rotationRate || {};
  const o = state.orientation || [null, null, null];
  const t = eventTime(e);
  state.rows.push([Math.round(t * 10) / 10, num(a.x), num(a.y), num(a.z), g.x, num(g.y), num(g.z),
    num(r.alpha), num(r.beta), num(r.gamma), o[0], o[1], o[2]]);
  if (state.rows.length > MAX_KEPT) state.rows.splice(0, state.rows.length - MAX_KEPT);
  state.events += 1;
  state.lastEventAt = performance.now();
  state.recent.push(state.lastEventAt);
  if (!state.gyroChecked && state.events > 20) {
    state.gyroChecked = true;
    if (num(r.alpha) === null) state.noGyro = true;
  }
}

async function askPermission() {
  // iOS 13+: only after a tap, and only on a secure page
  const asks = [];
  if (typeof DeviceMotionEvent !== 'undefined' && typeof DeviceMotionEvent.requestPermission === 'function') {
    asks.push(DeviceMotionEvent.requestPermission());
  }
  if (typeof DeviceOrientationEvent !== 'undefined' && typeof DeviceOrientationEvent.requestPermission === 'function') {
    asks.push(DeviceOrientationEvent.requestPermission().catch(() => 'denied'));
  }
  const answers = await Promise.all(asks);
  return answers.length === 0 ? 'granted' : answers[0];
}

async function keepAwake() {
  try {
    if ('wakeLock' in navigator && !state.wakeLock) {
      state.wakeLock = await navigator.wakeLock.request('screen');
      state.wakeLock.addEventListener('release', () => { state.wakeLock = null; });
    }
  } catch { state.wakeLock = null; }
}

async function start() {
  if (state.running) return;
  unlockAudio();
  el.summary.hidden = true;
  if (!window.isSecureContext) {
    say('error', 'This page is not secure', 'Phones give motion sensors only to secure pages: open it over HTTPS (repsense serve --self-signed) and accept the certificate.', 'insecure');
    return;
  }
  if (typeof DeviceMotionEvent === 'undefined') {
    say('error', 'No motion sensors here', 'This browser has no motion sensor events. Open this page on a phone (Safari on iPhone, Chrome on Android).', 'unsupported');
    return;
  }
  let answer;
  try { answer = await askPermission(); } catch (err) { answer = 'denied'; }
  if (answer !== 'granted') {
    say('error', 'Motion access was not allowed', 'Counting needs the motion sensors. Reload the page and tap Allow; on iPhone, if it no longer asks, quit Safari and open the page again.', 'denied');
    return;
  }
  window.addEventListener('devicemotion', onMotion);
  window.addEventListener('deviceorientation', onOrientation);
  state.running = true; state.startedAt = performance.now(); state.ending = false;
  document.body.classList.add('running');
  el.start.disabled = true; el.end.disabled = false;
  keepAwake();
  say('info', 'Waiting for the sensors…', 'Move the phone a little.', 'waiting');
  connect();
}

function stopSensors() {
  window.removeEventListener('devicemotion', onMotion);
  window.removeEventListener('deviceorientation', onOrientation);
  state.running = false;
  document.body.classList.remove('running');
  if (state.wakeLock) { state.wakeLock.release().catch(() => {}); state.wakeLock = null; }
}

function end() {
  if (!state.running) return;
  stopSensors();
  el.end.disabled = true;
  state.ending = true;
  flush(true);
  if (state.paired) {      // a joined phone leaves; the camera's session goes on
    sessionStorage.removeItem(SESSION_KEY);
    state.session = null;
    if (state.ws) state.ws.close();
    say('info', 'The phone left the session', 'The camera session goes on; what the phone counted stays in it.', 'left');
    el.start.disabled = false;
    return;
  }
  send({ type: 'end' });
  say('info', 'Ending…', 'Counting the last reps.', 'ending');
}

// watch the stream: no events, a stall (the phone slept), a low rate
function watch() {
  const now = performance.now();
  state.recent = state.recent.filter((t) => now - t <= 2000);
  const hz = state.recent.length / 2;
  el.rate.textContent = state.events && state.running ? `${hz.toFixed(0)} Hz` : '–';
  el.rate.dataset.hz = String(hz);
  el.samples.textContent = String(state.events);
  el.buffered.textContent = String(state.rows.length + [...state.unacked.values()].reduce((n, r) => n + r.length, 0));
  if (!state.running) return;
  if (!state.events) {
    if (now - state.startedAt > NO_EVENTS_MS) {
      say('error', 'No motion events', state.emptyEvents
        ? 'The browser sends motion events without values: this device has no accelerometer it will share. Try another browser or phone.'
        : 'This browser gives no motion sensor data (desktop browsers have none). Open this page on a phone.', 'no-events');
    }
    return;
  }
  if (now - state.lastEventAt > STALL_MS) {
    say('warn', 'The sensors stopped', 'The phone slept or the page went to the background. What was counted is kept; counting goes on when the samples come back. Keep the screen on.', 'stalled');
  } else if (state.noGyro) {
    say('error', 'No gyroscope', 'This phone gives no rotation rate; counting needs a gyroscope.', 'no-gyro');
  } else if (hz < LOW_RATE_HZ && now - state.startedAt > 3000) {
    say('warn', 'The sensors are slow', `Only ${hz.toFixed(0)} samples a second arrive (50-100 expected). Close other apps, keep this page in front, plug the phone in.`, 'slow');
  } else if (!state.wsOpen) {
    say('warn', 'Reconnecting to the server…', 'The samples wait on the phone and are counted when the connection is back.', 'reconnecting');
  } else if (state.message !== 'streaming') {
    say('streaming', 'Counting', 'Sensors streaming. Reps show about 4 s after you finish them.', 'streaming');
  }
}

document.addEventListener('visibilitychange', () => {
  if (!state.running) return;
  if (document.hidden) { state.hiddenAt = performance.now(); return; }
  keepAwake();
  if (state.hiddenAt !== null) {
    const s = (performance.now() - state.hiddenAt) / 1000;
    state.hiddenAt = null;
    if (s > 2) say('warn', 'The page was in the background', `For ${s.toFixed(0)} s the phone sent nothing; reps in that time could not be counted. What was counted before is kept.`, 'was-hidden');
  }
});

// ---------------------------------------------------------------------------------------------
// the WebSocket

function connect() {
  if (state.ws && (state.ws.readyState === WebSocket.OPEN || state.ws.readyState === WebSocket.CONNECTING)) return;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(withToken(`${proto}://${location.host}/ws`));
  state.ws = ws;
  ws.onopen = () => {
    state.wsOpen = true; state.backoff = 0; setConn('ready');
    const msg = { type: 'start', mode: 'sensors', source: 'phone' };
    const profile = params.get('profile') || localStorage.getItem('repsense.profile');
    if (profile) msg.profile = profile;
    if (state.session) msg.session = state.session;
    else if (state.join) msg.session = state.join;
    ws.send(JSON.stringify(msg));
  };
  ws.onmessage = (e) => { try { onMessage(JSON.parse(e.data)); } catch (err) { console.error(err); } };
  ws.onclose = () => {
    state.wsOpen = false;
    if (state.ws !== ws) return;
    // rows in flight go again; the server drops those it already had (not after its last one)
    const back = [...state.unacked.values()].flat();
    state.unacked.clear();
    state.rows = back.concat(state.rows);
    state.sessionReady = false;
    setConn(state.running || state.ending ? 'reconnecting' : 'offline');
    if (state.running || state.ending) {
      const delay = BACKOFF_MS[Math.min(state.backoff, BACKOFF_MS.length - 1)];
      state.backoff += 1;
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(connect, delay);
    }
  };
}

function send(obj) {
  if (!state.wsOpen || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(obj));
  return true;
}

function flush(all = false) {
  if (!state.sessionReady || !state.wsOpen) return;
  while (state.rows.length && (all || state.unacked.size < 8)) {
    const rows = state.rows.splice(0, MAX_ROWS);
    state.seq += 1;
    state.unacked.set(state.seq, rows);
    send({ type: 'motion', seq: state.seq, samples: rows });
    stats.sent += 1;
    if (!all) break;
  }
}

function onMessage(msg) {
  if (msg.type === 'started') {
    state.session = msg.session; state.sessionReady = true;
    sessionStorage.setItem(SESSION_KEY, msg.session);
    state.paired = msg.state && msg.state.kind === 'pair';
    setConn('live');
    render(msg.state);
    flush(state.ending);
    if (state.ending && !state.paired) send({ type: 'end' });
  } else if (msg.type === 'frame') {
    stats.frames += 1;
    state.unacked.delete(msg.seq);
    for (const ev of msg.events || []) onEvent(ev);
    render(msg.state);
  } else if (msg.type === 'ended') {
    for (const ev of msg.events || []) onEvent(ev);
    render(msg.state);
    showSummary(msg.summary, msg.state);
    const sets = (msg.summary?.sets || []).length;
    el.setLine.textContent = `${sets} set${sets === 1 ? '' : 's'}`;
    sessionStorage.removeItem(SESSION_KEY);
    state.session = null; state.ending = false; state.sessionReady = false;
    el.start.disabled = false;
    setConn('ready');
    say('info', 'Session ended', `${msg.state.total_reps} reps counted. It is in the history.`, 'ended');
    if (state.ws) state.ws.close();
  } else if (msg.type === 'error') {
    if (msg.code === 'ended') {       // the server ended it (it was away too long): start afresh
      sessionStorage.removeItem(SESSION_KEY);
      state.session = null;
      if (state.ws) state.ws.close();
    } else {
      console.warn('server:', msg.code, msg.message);
      if (msg.code === 'bad_motion' || msg.code === 'bad_message') say('error', 'The server refused the samples', msg.message, msg.code);
    }
  }
}

function displayName(name) { return NAMES[name] || (name ? name.replace(/_/g, ' ') : '—'); }

function render(st) {
  if (!st) return;
  state.exercise = st.exercise;
  el.exercise.textContent = st.exercise === 'idle' ? (state.running ? 'Looking…' : '—') : displayName(st.exercise);
  el.exercise.dataset.exercise = st.exercise;
  el.phase.textContent = st.phase === 'rest' || st.exercise === 'idle' || !state.running ? ''
    : (st.phase || '').replace(/_/g, ' ');
  el.count.textContent = String(st.count);
  el.count.dataset.count = String(st.count);
  el.count.dataset.total = String(st.total_reps);
  el.setLine.textContent = `Set ${state.setNo} · ${st.count} rep${st.count === 1 ? '' : 's'}`;
  el.totalLine.textContent = `${st.total_reps} rep${st.total_reps === 1 ? '' : 's'} in this session`;
}

function onEvent(ev) {
  if (ev.type === 'RepCompleted') {
    state.reps += 1;
    tone();
    speak(String(ev.count));
    const secs = ((ev.end_ms - ev.start_ms) / 1000).toFixed(1);
    const by = ev.counted_by ? ` · counted by the ${ev.counted_by}` : '';
    el.last.innerHTML = '';
    const b = document.createElement('b');
    b.textContent = `${displayName(ev.exercise)} #${ev.count}`;
    el.last.append(b, document.createTextNode(` · ${secs} s (down ${ev.eccentric_s.toFixed(1)} s, up ${ev.concentric_s.toFixed(1)} s)${by}`));
    el.last.classList.remove('muted');
    el.lastCard.dataset.rep = String(state.reps);
  } else if (ev.type === 'ExerciseDetected' && ev.exercise !== 'idle') {
    speak(displayName(ev.exercise));
  } else if (ev.type === 'SetCompleted') {
    speak(`Set done: ${ev.reps} ${displayName(ev.exercise).toLowerCase()}`);
    state.setNo += 1;
  } else if (ev.type === 'PersonLost') {
    say('warn', 'A gap in the samples', 'The rep in progress was completed; counting goes on with the next samples.', 'gap');
  }
}

function showSummary(summary, st) {
  el.summary.hidden = false;
  const rows = (summary?.exercises || []).map((e) => `<tr><td>${displayName(e.name)}</td><td>${e.reps}</td></tr>`).join('');
  const sets = (summary?.sets || []).length;
  el.summaryBody.innerHTML = `<p><b>${st.total_reps}</b> reps in ${sets} set${sets === 1 ? '' : 's'}, ${Math.round(summary?.duration_s || 0)} s.</p>`
    + (rows ? `<table><tr><th>Exercise</th><th>Reps</th></tr>${rows}</table>` : '');
}

// ---------------------------------------------------------------------------------------------
// joining a camera session

async function listCameraSessions() {
  try {
    const res = await fetch(withToken('/api/sessions'));
    if (!res.ok) return;
    const doc = await res.json();
    const live = (doc.sessions || []).filter((s) => s.live && s.kind === 'pose');
    el.joinBox.hidden = live.length === 0;
    el.joinList.innerHTML = '';
    for (const s of live) {
      const li = document.createElement('li');
      li.setAttribute('aria-selected', String(state.join === s.id));
      const label = document.createElement('span');
      label.textContent = `${s.source || 'camera'} · ${s.total_reps} reps so far`;
      const btn = document.createElement('button');
      btn.className = 'btn';
      btn.textContent = state.join === s.id ? 'Will join ✓' : 'Join';
      btn.dataset.testid = 'join-session';
      btn.onclick = () => { state.join = state.join === s.id ? null : s.id; listCameraSessions(); };
      li.append(label, btn);
      el.joinList.append(li);
    }
  } catch { /* no list: the phone counts alone */ }
}

// ---------------------------------------------------------------------------------------------

el.start.addEventListener('click', start);
el.end.addEventListener('click', end);
el.again.addEventListener('click', () => { el.summary.hidden = true; start(); });
el.mute.addEventListener('click', () => setMuted(!state.muted));
setMuted(state.muted);
setInterval(() => { if (state.running) flush(); watch(); }, SEND_EVERY_MS);
if (!state.session) listCameraSessions();
else say('info', 'A session is open', 'Tap Start to go on with it: the phone asks for the sensors again after a reload.', 'resume');
