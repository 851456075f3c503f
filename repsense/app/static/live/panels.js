// The panels: exercise, counts, form, last rep, hold, warnings, the status line and the session summary.

import { $, clock, displayName, el, esc, fmtS, FORM_HOLD_MS, humanize, median, mmss, MODEL,
  SET_GAP_S, state, stats, withToken } from './state.js';
import { speak, tone } from './sound.js';
import { updateButtons } from './buttons.js';

export function setForm(kind, title, text) {
  el.formPanel.dataset.state = kind;
  el.stage.dataset.form = kind;
  el.formTitle.textContent = title;
  el.formText.textContent = text;
  state.formUntil = kind === 'neutral' ? 0 : performance.now() + FORM_HOLD_MS;
}

export function renderExercise() {
  renderHoldCard();
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
  renderCounts();
}

function currentSet(name) {
  const ex = state.perExercise.get(name);
  if (!ex || !ex.sets.length) return { n: 1, reps: 0 };
  return { n: ex.sets.length, reps: ex.sets[ex.sets.length - 1] };
}

const isHold = (name) => !!state.catalogue.get(name)?.hold;

// Where to stand, from the exercise's description (/api/exercises `placement`); '' when no
// exercise is chosen or found yet: the page does not guess a view before it knows the exercise.
export function placement(name) {
  return state.catalogue.get(name)?.placement || '';
}

// The exercise the hint is for: the one found, else the one picked in the list.
function hintExercise() {
  if (state.exercise && state.exercise !== 'idle') return state.exercise;
  const picked = state.session?.exercise && state.session.exercise !== 'auto' ? state.session.exercise : el.exSelect.value;
  return picked && picked !== 'auto' ? picked : '';
}

// The form panel before a session: what to do next, with where to stand once an exercise is picked.
export function readyHint() {
  const where = placement(hintExercise());
  setForm('neutral', 'Ready', where ? `Start a session and step into view. ${where}` : 'Pick an exercise (or leave Auto-detect) and start a session.');
}

function heldNow() {
  const h = state.hold;
  return h.held + (h.holding ? (performance.now() - h.at) / 1000 : 0);
}

function renderCounts() {
  // A hold (plank) shows its time where a rep exercise shows its count.
  // a hold picked in the list shows as one before it is found
  const hold = isHold(state.exercise) || (state.exercise === 'idle' && isHold(el.exSelect.value));
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

// The hold card is for hold exercises (the plank): shown when one is found or picked, or was held.
function renderHoldCard() {
  const held = [...state.perExercise.entries()].find(([n, ex]) => isHold(n) && ex.hold > 0)?.[0];
  const picked = isHold(el.exSelect.value) && (!state.session || state.exercise === 'idle') ? el.exSelect.value : '';
  const name = isHold(state.exercise) ? state.exercise : held || picked;
  el.hold.hidden = !name;
  if (name) el.holdLabel.textContent = `${displayName(name)} hold`;
}

function renderHold() {
  renderHoldCard();
  const h = state.hold;
  el.hold.dataset.holding = String(h.holding);
  el.hold.dataset.held = h.held.toFixed(1);
  el.holdTime.textContent = mmss(h.held + (h.holding ? (performance.now() - h.at) / 1000 : 0), true);
  el.holdState.textContent = h.holding ? 'Holding — keep it up' : h.held > 0 ? 'Hold ended' : 'Not holding';
  el.holdGood.textContent = h.good != null && h.held > 0 ? `${h.good.toFixed(1)} s in good form` : '';
}

export function addWarning(text, severity = 'warning', sessionS = null, code = '') {
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

export function resetPanels() {
  state.exercise = 'idle'; state.count = 0; state.totalReps = 0; state.confidence = null;
  state.perExercise = new Map(); state.frames = 0; state.faultJoints = [];
  state.hold = { held: 0, holding: false, good: null, at: 0 };
  state.warningsCount = 0; el.warnings.dataset.count = '0';
  el.warnings.innerHTML = '<li class="empty">No warnings yet.</li>';
  state.recorded = []; state.recordedFrames = 0;
  renderExercise(); renderCounts(); renderLastRep(null); renderHold();
  readyHint();
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

export function onEvent(ev) {
  switch (ev.type) {
    case 'ExerciseDetected':
      state.confidence = ev.confidence ?? null;
      state.exercise = ev.exercise;
      renderExercise();
      if (ev.exercise !== 'idle') {
        const how = isHold(ev.exercise) ? 'Get into position: the timer runs while you hold it.'
          : el.exSelect.value === 'auto' && !state.demo ? 'Recognised. Counting your reps.' : 'Counting your reps.';
        setForm('neutral', displayName(ev.exercise), `${how} ${placement(ev.exercise)}`.trim());
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
      setForm('neutral', 'Where did you go?', `Step back into view. ${placement(hintExercise())}`.trim());
      addWarning('Lost sight of you', 'info', ev.timestamp_ms / 1000, 'person_lost');
      break;
    default:
      break;
  }
}

export function applyState(st) {
  if (!st) return;
  const changed = st.exercise !== state.exercise;
  state.exercise = st.exercise;
  state.count = st.count ?? 0;
  state.totalReps = st.total_reps ?? state.totalReps;
  state.faultJoints = st.fault_joints || [];
  state.person = !!st.person;
  // The same plain words as the annotated video ("going down", "coming up", "ready"): the server
  // sends them (repsense.sinks.words); nothing before an exercise is found.
  el.phase.textContent = st.exercise && st.exercise !== 'idle' ? (st.phase_words || '') : '';
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

export function restoreFromSummary(summary) {
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
export function syncFromSummary(summary) {
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

// the status line
export function renderStatus() {
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
  const conn = state.session ? (state.wsOpen ? 'live' : 'reconnecting')
    : state.wsOpen ? 'ready' : stats.reconnects ? 'offline' : 'connecting';
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

// the summary
export function showSummary(summary, id, planResult = null) {
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
  el.summaryBody.innerHTML = `${state.plan?.summaryHtml(planResult) || ''}
    <div class="stat-grid">
      <div class="stat"><b data-testid="summary-total">${total}</b><span>reps</span></div>
      <div class="stat good"><b>${good}</b><span>good</span></div>
      <div class="stat${total > good ? ' warn' : ''}" data-testid="summary-faulty"><b>${Math.max(0, total - good)}</b><span>faulty</span></div>
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

export function closeSummary() { el.summary.hidden = true; }
