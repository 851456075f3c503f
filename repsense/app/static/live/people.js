// Several people in one camera: the "people" setting (1-6), one card per person with their own
// count, each skeleton in its person's colour, cues that say whose they are ("left: Go deeper…"),
// and a card clicked to name the person (their session is then stored under that profile).
// The server tells who is who (docs/web.md, "Several people"); the page only shows it.

import { displayName, el, params, state, stats } from './state.js';
import { speak, tone } from './sound.js';
import { addWarning } from './panels.js';

// The same colours as the annotated video (repsense.sinks.annotate.PERSON_COLOURS), by person id.
export const COLOURS = ['#4cc9f0', '#f9c74f', '#f72585', '#90be6d', '#f8961e', '#b388ff'];
export const colourOf = (id) => COLOURS[(id - 1) % COLOURS.length];

const wanted = Number(params.get('people'));
if (wanted >= 1 && wanted <= 6) el.peopleSelect.value = String(wanted);

export function peopleWanted() { return Number(el.peopleSelect.value) || 1; }

export function isPeopleSession() { return !!(state.session && state.session.people > 1); }

state.people = new Map();          // person id -> {id, profile, state, x, card}
state.peopleSent = new Map();      // seq -> the poses sent in that frame (to colour the answer)
state.livePoses = [];              // every pose of the newest frame
state.peopleDraw = null;           // [{pose, colour, faults}] of the last answered frame
stats.peopleCards = 0;

export function resetPeople() {
  state.people.clear();
  state.peopleSent.clear();
  state.peopleDraw = null;
  el.peopleCards.replaceChildren();
  el.peopleCards.hidden = peopleWanted() <= 1;
  stats.peopleCards = 0;
  document.body.classList.toggle('people-mode', isPeopleSession());
}

const hipX = (pose) => {
  if (!pose) return null;
  const xs = [pose[23], pose[24]].filter((p) => p && Number.isFinite(p[0])).map((p) => p[0]);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
};

// Whose a cue is: their name once given, else where they stand (left / middle / right), else "person N".
export function whose(id) {
  const p = state.people.get(id);
  if (p && p.profile) return p.profile;
  const placed = [...state.people.values()].filter((q) => q.x != null).sort((a, b) => a.x - b.x);
  const i = placed.findIndex((q) => q.id === id);
  if (i >= 0 && placed.length === 2) return ['left', 'right'][i];
  if (i >= 0 && placed.length === 3) return ['left', 'middle', 'right'][i];
  return `person ${id}`;
}

function card(p) {
  if (p.card) return p.card;
  const c = document.createElement('article');
  c.className = 'card person-card';
  c.dataset.testid = 'person-card';
  c.setAttribute('data-testid', 'person-card');
  c.dataset.person = String(p.id);
  c.style.setProperty('--person-colour', colourOf(p.id));
  c.title = 'Click to name this person: their session is kept under that name in the history';
  c.innerHTML = `<div class="person-head"><i class="person-dot"></i><b class="person-name"></b></div>
    <div class="person-count"><b data-testid="rep-count" data-count="0" data-total="0">0</b><small>reps</small></div>
    <div class="person-ex muted"></div><div class="person-cue"></div>`;
  c.addEventListener('click', () => nameDialog(p.id));
  const after = [...state.people.values()].filter((q) => q.card && q.id > p.id).sort((a, b) => a.id - b.id)[0];
  el.peopleCards.insertBefore(c, after ? after.card : null);
  p.card = c;
  stats.peopleCards = el.peopleCards.children.length;
  return c;
}

function render(p) {
  const c = card(p);
  const st = p.state || {};
  c.querySelector('.person-name').textContent = p.profile || `Person ${p.id}`;
  const count = c.querySelector('[data-testid="rep-count"]');
  count.textContent = String(st.count ?? 0);
  count.dataset.count = String(st.count ?? 0);
  count.dataset.total = String(st.total_reps ?? 0);
  const ex = st.exercise && st.exercise !== 'idle' ? displayName(st.exercise) : 'waiting for an exercise';
  c.querySelector('.person-ex').textContent = `${ex} · ${st.total_reps ?? 0} in all`;
  c.dataset.seen = String(!!st.person);
  c.dataset.position = whose(p.id);
  stats.people = [...state.people.values()].sort((a, b) => a.id - b.id).map((q) => ({
    person: q.id, x: q.x, profile: q.profile || null, count: q.state?.count ?? 0,
    total: q.state?.total_reps ?? 0, exercise: q.state?.exercise ?? null }));
}

let sendName = () => false;
export function setNameSender(fn) { sendName = fn; }

function nameDialog(id) {
  const p = state.people.get(id);
  const name = window.prompt(`Who is ${whose(id)}? Their session is kept under this name.`, p && p.profile ? p.profile : '');
  if (name && name.trim()) sendName(id, name.trim().slice(0, 64));
}

export function onNamed(msg) {
  const p = state.people.get(msg.person);
  if (!p) return;
  p.profile = msg.profile;
  render(p);
}

// One answered frame: every person's state and events; `poses`: the poses sent in that frame.
export function applyPeople(list, poses) {
  const draw = [];
  for (const row of list) {
    let p = state.people.get(row.person);
    if (!p) { p = { id: row.person, profile: row.profile, state: null, x: null, card: null }; state.people.set(p.id, p); }
    p.state = row.state;
    if (row.profile) p.profile = row.profile;
    const pose = poses && row.pose != null ? poses[row.pose] : null;
    if (pose) {
      p.x = hipX(pose);
      draw.push({ pose, colour: colourOf(p.id), faults: (row.state && row.state.fault_joints) || [] });
    }
    for (const ev of row.events || []) onPersonEvent(p, ev);
    render(p);
  }
  el.peopleCards.hidden = false;
  document.body.classList.add('people-mode');
  state.peopleDraw = draw;
}

function onPersonEvent(p, ev) {
  const who = whose(p.id);
  if (ev.type === 'RepCompleted') {
    if (ev.good) tone();
    p.card?.classList.add('bump');
    setTimeout(() => p.card?.classList.remove('bump'), 500);
  } else if (ev.type === 'FormWarning') {
    const text = `${who}: ${ev.message}`;
    p.card && (p.card.querySelector('.person-cue').textContent = ev.message);
    addWarning(text, ev.severity || 'warning', ev.timestamp_ms != null ? ev.timestamp_ms / 1000 : null, ev.code || '');
    speak(text);
  } else if (ev.type === 'ExerciseDetected' && ev.exercise && ev.exercise !== 'idle') {
    addWarning(`${who}: ${displayName(ev.exercise)}`, 'info');
  }
}

// A session's end with several people: the summary shows everyone's reps together.
export function peopleSummary(msg) {
  const people = msg.people || [];
  const exercises = people.flatMap((p) => p.summary?.exercises || []);
  return {
    ...(msg.summary || {}), exercises,
    total_reps: people.reduce((n, p) => n + (p.summary?.total_reps || 0), 0),
    good_reps: people.reduce((n, p) => n + (p.summary?.good_reps || 0), 0),
    time_under_tension_s: people.reduce((n, p) => n + (p.summary?.time_under_tension_s || 0), 0),
    duration_s: Math.max(0, ...people.map((p) => p.summary?.duration_s || 0)),
    people: people.map((p) => ({ person: p.person, profile: p.profile, total_reps: p.summary?.total_reps || 0 })),
  };
}
