// The buttons and badges: what can be pressed now.

import { el, state, withToken } from './state.js';

export function updateButtons() {
  const live = !!state.session;
  const ready = state.mode === 'frames' || !!state.landmarker || !!state.worker;
  el.start.disabled = live || !!state.wantStart || !ready || !!state.cameraError || !state.stream || !!state.demo
    || !state.wsOpen;
  el.start.dataset.ready = String(!el.start.disabled);
  el.end.disabled = !live || !!state.demo;
  el.demo.textContent = state.demo ? '■ Stop the demo' : '▶ Try the demo';
  el.demo.disabled = live && !state.demo;
  el.exSelect.disabled = live || !!state.plan?.active();   // a plan names each step's exercise
  state.plan?.lock(live);
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

function durationOf(frames) { return frames.length > 1 ? frames[frames.length - 1].t - frames[0].t : 0; }
