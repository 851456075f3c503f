// The connection: the WebSocket /ws (reconnects, resumes), the poses sent (buffered while away) and the server's answers.

import { BACKOFF_MS, BATCH, el, MAX_BUFFER, pushCapped, state, stats, STORE_KEY, toast, withToken } from './state.js';
import { redraw } from './drawing.js';
import { updateButtons } from './buttons.js';
import { applyState, onEvent, placement, resetPanels, restoreFromSummary, setForm, showSummary,
  syncFromSummary } from './panels.js';
import { applyPeople, isPeopleSession, onNamed, peopleSummary, peopleWanted, resetPeople,
  setNameSender } from './people.js';

setNameSender((person, profile) => send({ type: 'name', person, profile }));

function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  return withToken(`${proto}://${location.host}/ws`);
}

export function connect() {
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
    updateButtons();   // Start waits for the connection
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
    updateButtons();
    scheduleReconnect();   // with or without a session: Start needs the connection
  };
  ws.onerror = () => {};
}

function scheduleReconnect() {
  const delay = BACKOFF_MS[Math.min(state.backoff, BACKOFF_MS.length - 1)] * (0.8 + 0.4 * Math.random());
  state.backoff += 1; stats.reconnects += 1;
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(connect, delay);
}

export function send(obj) {
  if (!state.wsOpen || !state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(obj));
  return true;
}

function flushBuffer() {
  if (isPeopleSession()) {            // several people: one frame a message (the server's rule)
    while (state.buffer.length && state.wsOpen) {
      const frame = state.buffer.shift();
      state.unacked.push(frame);
      send({ type: 'pose', ...frame });
    }
    stats.buffered = 0;
    return;
  }
  while (state.buffer.length && state.wsOpen) {
    const frames = state.buffer.splice(0, BATCH);
    const last = frames[frames.length - 1];
    state.unacked.push(...frames);
    state.pending.set(last.seq, { sentAt: performance.now(), capturedAt: null });
    send({ type: 'poses', frames });
  }
  stats.buffered = state.buffer.length;
}

export function startMessage() {
  const demo = state.demo;
  return {
    type: 'start',
    exercise: demo ? demo.exercise : (el.exSelect.value || 'auto'),
    width: demo ? demo.width : (el.video.videoWidth || el.canvas.width || 640),
    height: demo ? demo.height : (el.video.videoHeight || el.canvas.height || 480),
    mode: demo ? 'landmarks' : state.mode,
    source: demo ? 'demo (bundled sample recording)' : (stats.cameraLabel || 'browser camera'),
    demo: !!demo,                  // the server keeps the demo out of the history
    // whose session: ?profile= or the one picked on the history page (the server's default else)
    profile: new URLSearchParams(location.search).get('profile') || localStorage.getItem('repsense.profile') || undefined,
    // a guided workout: the plan picked and its targets (plans.js)
    ...(!demo && state.plan && peopleWanted() <= 1 ? state.plan.startFields() : {}),
    // several people: one session each, the server tells who is who
    people: !demo && peopleWanted() > 1 ? peopleWanted() : undefined,
  };
}

function onMessage(msg) {
  switch (msg.type) {
    case 'started': {
      const resumed = !!msg.resumed;
      state.session = { id: msg.session, demo: !!state.demo, ending: false, exercise: msg.exercise,
        people: msg.max_people || 1 };
      state.wantStart = null;
      if (!resumed) resetPeople();
      if (msg.people) applyPeople(msg.people, null);
      if (!state.demo) sessionStorage.setItem(STORE_KEY, msg.session);
      if (!resumed) {
        resetPanels();
        const where = placement(msg.exercise);
        setForm('neutral', 'Session on', where || 'Step into view: the exercise is recognised as you start.');
      } else {
        if (!state.perExercise.size) restoreFromSummary(msg.summary);
        toast('Session resumed: nothing counted was lost.');
      }
      applyState(msg.state);
      state.plan?.onStarted(msg);
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
      if (msg.people) {
        applyPeople(msg.people, state.peopleSent.get(msg.seq));
        for (const k of state.peopleSent.keys()) { if (k > msg.seq) break; state.peopleSent.delete(k); }
        redraw();
        break;
      }
      for (const ev of msg.events || []) onEvent(ev);
      applyState(msg.state);
      if (msg.guide) state.plan?.onGuide(msg.guide, msg.prompts);
      redraw();
      break;
    }
    case 'guide':
      state.plan?.onGuide(msg.guide, msg.prompts);
      break;
    case 'named':
      onNamed(msg);
      break;
    case 'recording':
      state.recording = !!msg.on;
      state.recordedFrames = msg.frames || 0;
      updateButtons();
      break;
    case 'ended': {
      const id = msg.session;
      if (msg.people) msg.summary = peopleSummary(msg);
      syncFromSummary(msg.summary);
      state.session = null;
      sessionStorage.removeItem(STORE_KEY);
      state.recording = false; state.recordArmed = false;
      if (msg.guide) state.plan?.onGuide(msg.guide, msg.prompts);
      state.plan?.onEnded(msg);
      showSummary(msg.summary, id, msg.plan_result);
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

function recordLocal(t, landmarks) {
  if (state.recording) state.recorded.push({ t, landmarks });
}

export function sendPose(t, landmarks, capturedAt, people) {
  const seq = ++state.seq;
  let frame = { t, landmarks, seq };
  if (isPeopleSession()) {
    const poses = people || (landmarks ? [landmarks] : []);
    frame = { t, people: poses, seq };
    state.peopleSent.set(seq, poses);
    if (state.peopleSent.size > 200) state.peopleSent.delete(state.peopleSent.keys().next().value);
  }
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

export function endSession() {
  if (!state.session) return;
  state.session.ending = true;
  if (state.recording) { send({ type: 'record', on: false }); }
  if (!state.wsOpen) { state.endAfterResume = true; toast('Ending the session as soon as the connection is back…'); return; }
  flushBuffer();
  send({ type: 'end' });
}
