// "Teach a new exercise": record one set with the camera (into the session's pose recording),
// let the server find the reps and learn the exercise (POST /api/teach), look at the plot and the
// description, name it and save it to the user's library (docs/teach.md).

import { $, esc, state, toast, withToken } from './state.js';
import { toggleRecord } from './recording.js';
import { startSession } from './session.js';

const t = {
  rec: $('teach-rec'), go: $('teach-go'), name: $('teach-name'), status: $('teach-status'),
  result: $('teach-result'), plot: $('teach-plot'), summary: $('teach-summary'), text: $('teach-text'),
  save: $('teach-save'),
};
const lesson = { sid: null, from: null, recording: false, id: null, name: null };

function say(text, kind = 'info') {
  t.status.textContent = text;
  t.status.dataset.kind = kind;
}

function refresh() {
  t.rec.textContent = lesson.recording ? '■ Stop the set' : '● Record a set';
  t.rec.classList.toggle('on', lesson.recording);
  t.rec.setAttribute('aria-pressed', String(lesson.recording));
  t.go.disabled = lesson.recording || lesson.from === null || !t.name.value.trim();
}

export function teachRecord() {
  if (lesson.recording) {                       // the set is done
    if (state.recording) toggleRecord();
    lesson.recording = false;
    say('Set recorded. Name it and find the reps.');
    refresh();
    return;
  }
  t.result.hidden = true;
  lesson.from = null; lesson.id = null;
  state.recordedFrames = -1;                    // the server's answer says where this set starts
  if (!state.session) {
    if (!state.recordArmed) toggleRecord();     // armed: recording starts with the session
    startSession();
  } else if (!state.recording) {
    toggleRecord();
  }
  lesson.recording = true;
  say('Recording… do one good set of two or more reps, then stop.');
  refresh();
  const started = () => {
    if (!lesson.recording) return;
    if (state.session && state.recording && state.recordedFrames >= 0) {
      lesson.sid = state.session.id; lesson.from = state.recordedFrames;
    } else setTimeout(started, 100);
  };
  started();
}

export async function teachFind() {
  const name = t.name.value.trim();
  if (!name || !lesson.sid) return;
  t.go.disabled = true;
  say('Finding the reps…');
  let body;
  try {
    const r = await fetch(withToken(`/api/teach?sid=${encodeURIComponent(lesson.sid)}&from_frame=${lesson.from}&name=${encodeURIComponent(name)}`), { method: 'POST' });
    body = await r.json();
    if (!r.ok) { say(body.error || `Could not learn it (HTTP ${r.status}).`, 'error'); refresh(); return; }
  } catch (err) { say(`Could not reach the server: ${err.message}`, 'error'); refresh(); return; }
  lesson.id = body.lesson; lesson.name = body.name;
  t.plot.src = withToken(body.plot);
  t.summary.innerHTML = `<strong>${body.reps} reps</strong> found on the <strong>${esc(body.signal)}</strong>. ${body.notes.slice(1).map(esc).join('; ')}`;
  t.text.textContent = body.text;
  t.save.disabled = false;
  t.save.textContent = `Save “${body.name}” to my exercises`;
  t.result.hidden = false;
  say('Check the reps on the plot; save when they look right, or record the set again.');
  refresh();
}

export async function teachSave(reloadCatalogue) {
  if (!lesson.id) return;
  t.save.disabled = true;
  const url = `/api/teach/${encodeURIComponent(lesson.id)}/save`;
  let r = await fetch(withToken(url), { method: 'POST' });
  if (r.status === 409 && window.confirm(`“${lesson.name}” is already one of your exercises. Replace it?`)) {
    r = await fetch(withToken(`${url}?overwrite=1`), { method: 'POST' });
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { say(body.error || `Could not save it (HTTP ${r.status}).`, 'error'); t.save.disabled = false; return; }
  say(`Saved: “${body.saved}” is in the exercise list, and Auto-detect knows it.`, 'done');
  toast(`${body.saved} saved to your exercises`);
  await reloadCatalogue(body.saved);
}

export function wireTeach(reloadCatalogue) {
  t.rec.addEventListener('click', teachRecord);
  t.go.addEventListener('click', teachFind);
  t.name.addEventListener('input', refresh);
  t.save.addEventListener('click', () => teachSave(reloadCatalogue));
  refresh();
}
