// repsense live coach: camera -> pose (in the browser, or on the server in frames mode) -> the
// WebSocket /ws -> the engine's state and events -> the panels, voice and tone. Protocol: docs/web.md.
// This is the entry module: it wires the controls and starts the page; the parts are in live/.

import { el, esc, humanize, params, state, stats, STORE_KEY, toast, withToken } from './live/state.js';
import { setMuted, speak, unlockAudio, useSound } from './live/sound.js';
import { updateButtons } from './live/buttons.js';
import { closeSummary, readyHint, renderExercise, renderStatus, resetPanels } from './live/panels.js';
import { connect, endSession, send } from './live/connection.js';
import { listCameras, loadModel, openCamera, setNumPoses } from './live/camera.js';
import { resetPeople } from './live/people.js';
import { togglePlayback, toggleRecord } from './live/recording.js';
import { startSession, toggleDemo } from './live/session.js';
import { uploadVideo } from './live/upload.js';
import { PlanGuide } from './live/plans.js';
import { wireTeach } from './live/teach.js';

useSound(state, stats, el.mute);
setInterval(renderStatus, 250);

// wiring
el.start.addEventListener('click', startSession);
el.end.addEventListener('click', endSession);
el.demo.addEventListener('click', toggleDemo);
el.rec.addEventListener('click', toggleRecord);
el.play.addEventListener('click', togglePlayback);
el.mute.addEventListener('click', () => { unlockAudio(); setMuted(!state.muted); });
el.camera.addEventListener('change', () => openCamera(el.camera.value));
el.exSelect.addEventListener('change', () => { renderExercise(); if (!state.session) readyHint(); });
el.peopleSelect.addEventListener('change', () => { setNumPoses(); if (!state.session) resetPeople(); });
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

// the catalogue again after an exercise was taught, with it chosen
wireTeach(async (name) => {
  await loadCatalogue();
  if (!state.session && [...el.exSelect.options].some((o) => o.value === name)) {
    el.exSelect.value = name;
    renderExercise();
  }
});

async function loadCatalogue() {
  try {
    const r = await fetch(withToken('/api/exercises'));
    const list = await r.json();
    const current = el.exSelect.value;
    for (const ex of list) state.catalogue.set(ex.name, ex);
    const opts = ['<option value="auto">Auto-detect</option>'];
    for (const ex of [...list].sort((a, b) => (a.display || a.name).localeCompare(b.display || b.name))) {
      opts.push(`<option value="${esc(ex.name)}">${esc(ex.display || humanize(ex.name))}${ex.hold ? ' (hold)' : ''}${ex.taught ? ' (taught)' : ''}</option>`);
    }
    opts.push('<option value="generic">Any movement (generic)</option>');
    el.exSelect.innerHTML = opts.join('');
    if (current && [...el.exSelect.options].some((o) => o.value === current)) el.exSelect.value = current;
    const wanted = params.get('exercise');
    if (wanted && [...el.exSelect.options].some((o) => o.value === wanted)) el.exSelect.value = wanted;
  } catch { toast('Could not load the exercise list.', 'error'); }
  renderExercise();
  if (!state.session) readyHint();
}

// The guided workouts (docs/plans.md): the picker, the guide panel, the editor.
function setUpPlans() {
  const profile = () => params.get('profile') || localStorage.getItem('repsense.profile') || '';
  state.plan = new PlanGuide(document.body, {
    speak, toast, withToken, send, endSession, profile,
    live: () => !!state.session && !state.session.demo && !state.session.ending,
    catalogue: () => state.catalogue,
    changed: updateButtons,
  });
  return state.plan.load();
}

async function main() {
  setMuted(state.muted);
  resetPanels();
  updateButtons();
  const resumeId = sessionStorage.getItem(STORE_KEY);
  state.peopleMode = Number(el.peopleSelect.value) > 1;
  if (!resumeId) connect();   // the status pill and Start follow the connection from the start
  await Promise.all([loadCatalogue().then(setUpPlans), loadModel(), openCamera(null)]);
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
