// Recording the pose stream and playing it back.

import { el, state } from './state.js';
import { redraw, sizeCanvas } from './drawing.js';
import { updateButtons } from './buttons.js';
import { send } from './connection.js';

export function toggleRecord() {
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

export function stopPlayback() {
  if (!state.playback) return;
  cancelAnimationFrame(state.playback.raf);
  state.playback = null; state.playbackFrame = null;
  redraw(); updateButtons();
}

export function togglePlayback() {
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
