// Starting a session, and the demo: the bundled recording through the same live path.

import { el, nextT, state, stats, toast, withToken } from './state.js';
import { redraw, sizeCanvas } from './drawing.js';
import { unlockAudio } from './sound.js';
import { updateButtons } from './buttons.js';
import { closeSummary } from './panels.js';
import { connect, endSession, send, sendPose, startMessage } from './connection.js';
import { stopPlayback } from './recording.js';

export function startSession() {
  unlockAudio();
  closeSummary();
  stopPlayback();
  state.buffer = []; state.unacked = []; state.pending.clear(); stats.buffered = 0; stats.posesMeasured = 0;
  state.wantStart = startMessage();
  if (state.wsOpen) send(state.wantStart); else connect();
  updateButtons();
}

// the demo: the bundled recording through the same live path
export async function toggleDemo() {
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
