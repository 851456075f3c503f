// Guided workouts on the live page (docs/plans.md): the plan picker and editor, the guide panel
// (step and set, progress to the target, "set done", the rest countdown with skip and +30 s, the
// next step), the exercise's reference animation, the suggestions of progression, and the plan's
// part of the summary. The guide itself runs on the server; this module shows what it says.

const BONES = [
  [11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24],
  [23, 25], [25, 27], [24, 26], [26, 28], [27, 29], [29, 31], [27, 31], [28, 30], [30, 32], [28, 32],
];
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const pct = (x) => (x == null ? '–' : `${Math.round(x * 100)}%`);
const num = (x) => (x == null ? '–' : (Number.isInteger(x) ? String(x) : x.toFixed(1)));

// The reference animation of an exercise on a canvas: generated poses of one good rep, looping.
class ReferencePlayer {
  constructor(canvas, caption) {
    this.canvas = canvas; this.caption = caption; this.doc = null; this.raf = 0; this.cache = new Map();
  }

  async show(name, withToken) {
    if (!name) return;
    let doc = this.cache.get(name);
    if (!doc) {
      try {
        const r = await fetch(withToken(`/api/exercises/${encodeURIComponent(name)}/reference`));
        if (!r.ok) return;
        doc = await r.json();
        this.cache.set(name, doc);
      } catch { return; }
    }
    this.doc = doc;
    this.caption.textContent = `${doc.display}: ${doc.cue}`;
    this.canvas.dataset.exercise = name;
    this.canvas.dataset.frames = String(doc.frames.length);
    this.start = performance.now();
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  }

  stop() { cancelAnimationFrame(this.raf); this.raf = 0; }

  draw() {
    this.raf = 0;
    const doc = this.doc;
    if (!doc || this.canvas.offsetParent === null) { this.raf = requestAnimationFrame(() => this.draw()); return; }
    const i = Math.floor(((performance.now() - this.start) / 1000) * doc.fps) % doc.frames.length;
    const lm = doc.frames[i];
    const c = this.canvas; const g = c.getContext('2d');
    const w = c.width; const h = c.height;
    g.clearRect(0, 0, w, h);
    g.fillStyle = '#0b1220'; g.fillRect(0, 0, w, h);
    g.strokeStyle = 'rgba(148,163,184,0.35)'; g.lineWidth = 1;
    g.beginPath(); g.moveTo(0, 0.9 * h + 2); g.lineTo(w, 0.9 * h + 2); g.stroke();
    g.lineCap = 'round'; g.strokeStyle = '#38bdf8'; g.lineWidth = Math.max(2, w / 70);
    for (const [a, b] of BONES) {
      g.beginPath(); g.moveTo(lm[a][0] * w, lm[a][1] * h); g.lineTo(lm[b][0] * w, lm[b][1] * h); g.stroke();
    }
    const ear = lm[7]; const nose = lm[0];
    g.fillStyle = '#e0f2fe';
    g.beginPath(); g.arc((ear[0] + nose[0]) / 2 * w, (ear[1] + nose[1]) / 2 * h, w / 28, 0, Math.PI * 2); g.fill();
    this.canvas.dataset.frame = String(i);
    this.raf = requestAnimationFrame(() => this.draw());
  }
}

export class PlanGuide {
  // ui: {speak(text), toast(text, kind), withToken(path), profile(), send(msg), endSession(), live(),
  //      catalogue(), changed() (the plan picked changed: the buttons follow)}
  constructor(root, ui) {
    this.ui = ui;
    this.root = root;
    this.plans = [];
    this.next = null;          // /api/plans/<id>/next of the picked plan
    this.accepted = false;
    this.guide = null;
    this.restAt = null;        // {left, at}: the rest left when the server said it, and when
    this.lastStep = null;
    this.ending = false;
    const q = (sel) => root.querySelector(sel);
    this.el = {
      select: q('[data-testid="plan"]'), info: q('[data-testid="plan-info"]'),
      suggest: q('[data-testid="plan-suggestions"]'), edit: q('[data-testid="plan-edit"]'),
      add: q('[data-testid="plan-new"]'), remove: q('[data-testid="plan-delete"]'),
      panel: q('[data-testid="plan-panel"]'), title: q('[data-testid="plan-title"]'),
      progress: q('[data-testid="plan-progress"]'), bar: q('[data-testid="plan-bar"]'),
      banner: q('[data-testid="set-done"]'), rest: q('[data-testid="rest-timer"]'),
      restLeft: q('[data-testid="rest-left"]'), skip: q('[data-testid="plan-skip"]'),
      more: q('[data-testid="plan-more-rest"]'), nextLine: q('[data-testid="plan-next"]'),
      steps: q('[data-testid="plan-steps"]'), refBtn: q('[data-testid="plan-reference-btn"]'),
      ref: q('[data-testid="plan-reference"]'), refCanvas: q('[data-testid="reference-canvas"]'),
      refCaption: q('[data-testid="reference-cue"]'), refClose: q('[data-testid="reference-close"]'),
      editor: q('[data-testid="plan-editor"]'), edName: q('[data-testid="plan-editor-name"]'),
      edSteps: q('[data-testid="plan-editor-steps"]'), edAdd: q('[data-testid="plan-editor-add"]'),
      edSave: q('[data-testid="plan-editor-save"]'), edCancel: q('[data-testid="plan-editor-cancel"]'),
      edError: q('[data-testid="plan-editor-error"]'),
    };
    this.player = new ReferencePlayer(this.el.refCanvas, this.el.refCaption);
    this.el.select.addEventListener('change', () => this.pick());
    this.el.skip.addEventListener('click', () => this.ui.send({ type: 'plan', action: 'skip' }));
    this.el.more.addEventListener('click', () => this.ui.send({ type: 'plan', action: 'add_rest' }));
    this.el.refBtn.addEventListener('click', () => this.showReference(this.guide?.exercise || this.firstExercise()));
    this.el.refClose.addEventListener('click', () => { this.el.ref.hidden = true; this.player.stop(); });
    this.el.add.addEventListener('click', () => this.openEditor(null));
    this.el.edit.addEventListener('click', () => this.openEditor(this.picked()));
    this.el.remove.addEventListener('click', () => this.removePicked());
    this.el.edAdd.addEventListener('click', () => this.addEditorRow({ exercise: 'squat', sets: 3, reps: 10, rest_s: 60 }));
    this.el.edCancel.addEventListener('click', () => { this.el.editor.hidden = true; });
    this.el.edSave.addEventListener('click', () => this.saveEditor());
    this.suggestClicks();
    setInterval(() => this.tick(), 200);
  }

  profileQuery() { const p = this.ui.profile(); return p ? `?profile=${encodeURIComponent(p)}` : ''; }

  async load(keep) {
    try {
      const r = await fetch(this.ui.withToken(`/api/plans${this.profileQuery()}`));
      this.plans = (await r.json()).plans || [];
    } catch { this.plans = []; }
    const want = keep ?? this.el.select.value;
    const opt = (p) => `<option value="${esc(p.id)}">${esc(p.name)}${p.builtin ? '' : ' (mine)'}</option>`;
    this.el.select.innerHTML = '<option value="">Free training</option>'
      + this.plans.map(opt).join('');
    this.el.select.value = this.plans.some((p) => p.id === want) ? want : '';
    await this.pick();
  }

  picked() { return this.plans.find((p) => p.id === this.el.select.value) || null; }
  lock(live) {   // no other plan, no editing while a session runs
    this.el.select.disabled = live;
    for (const b of [this.el.add, this.el.edit, this.el.remove]) b.disabled = live;
  }
  firstExercise() { return this.picked()?.steps?.[0]?.exercise; }
  active() { return !!this.picked(); }

  async pick() {
    const plan = this.picked();
    this.next = null; this.accepted = false;
    this.el.edit.hidden = !plan || plan.builtin;
    this.el.remove.hidden = !plan || plan.builtin;
    this.el.refBtn.hidden = !plan;
    this.root.dataset.plan = plan ? plan.id : '';
    this.ui.changed?.();
    if (!plan) { this.el.info.innerHTML = ''; this.el.suggest.hidden = true; this.renderSteps(null); return; }
    try {
      const r = await fetch(this.ui.withToken(`/api/plans/${encodeURIComponent(plan.id)}/next${this.profileQuery()}`));
      if (r.ok) this.next = await r.json();
    } catch { this.next = null; }
    const shown = this.next?.plan || plan;
    const last = this.next?.sessions?.[0];
    this.el.info.innerHTML = `${esc(plan.description || '')} <span class="muted">${shown.steps.length} step${shown.steps.length === 1 ? '' : 's'}`
      + `${last ? ` · last time ${pct(last.adherence)} done` : ''}</span>`;
    this.renderSuggestions();
    this.renderSteps(shown);
  }

  renderSuggestions() {
    const found = this.next?.suggestions || [];
    this.el.suggest.hidden = !found.length;
    if (!found.length) return;
    const more = found.some((s) => s.kind === 'more');
    this.el.suggest.innerHTML = found.map((s) => `<p data-kind="${esc(s.kind)}">${esc(s.text)}</p>`).join('')
      + (more ? `<div class="row"><button class="btn primary" data-act="accept" data-testid="plan-accept">${this.accepted ? '✓ Accepted' : 'Accept'}</button>`
        + `<button class="btn ghost" data-act="ignore" data-testid="plan-ignore">Not today</button></div>` : '');
  }

  suggestClicks() {
    this.el.suggest.addEventListener('click', (e) => {
      const act = e.target?.dataset?.act;
      if (!act) return;
      this.accepted = act === 'accept';
      if (!this.accepted) this.el.suggest.hidden = true;
      this.renderSuggestions();
      this.renderSteps(this.planned());
      this.ui.toast(this.accepted ? 'This session asks for a little more.' : 'Keeping the targets.');
    });
  }

  // The plan as this session will run it: targets carried and, if accepted, raised.
  planned() {
    const base = this.next?.plan || this.picked();
    if (!base) return null;
    const steps = base.steps.map((s) => ({ ...s }));
    if (this.accepted) {
      for (const sug of this.next?.suggestions || []) {
        if (sug.kind !== 'more') continue;
        const s = steps[sug.step];
        if (s.hold) s.hold_s = sug.suggested; else s.reps = sug.suggested;
      }
    }
    return { ...base, steps };
  }

  // Fields of the `start` message.
  startFields() {
    const plan = this.planned();
    if (!plan) return {};
    return { plan: plan.id, targets: plan.steps.map((s) => (s.hold ? s.hold_s : s.reps)) };
  }

  renderSteps(plan, doneSteps) {
    if (!plan) { this.el.steps.innerHTML = ''; return; }
    const cur = this.guide ? this.guide.step - 1 : -1;
    this.el.steps.innerHTML = plan.steps.map((s, i) => {
      const what = s.hold ? `${num(s.hold_s)} s` : `${s.reps}`;
      const state = i < cur || doneSteps?.[i] ? 'done' : (i === cur ? 'now' : 'todo');
      return `<li data-state="${state}">${esc(s.display)} <span class="muted">${s.sets} × ${what}${s.rest_s ? `, rest ${num(s.rest_s)} s` : ''}</span></li>`;
    }).join('');
  }

  showReference(name) {
    if (!name) return;
    this.el.ref.hidden = false;
    this.player.show(name, this.ui.withToken);
  }

  // --- messages of a guided session ---------------------------------------------------------
  onStarted(msg) {
    this.ending = false;
    if (!msg.guide) { this.guide = null; this.el.panel.hidden = true; return; }
    this.el.panel.hidden = false;
    this.lastStep = null;
    this.apply(msg.guide, msg.prompts);
  }

  onGuide(guide, prompts) {
    if (!guide) return;
    this.apply(guide, prompts);
  }

  apply(g, prompts = []) {
    this.guide = g;
    const root = this.el.panel;
    root.dataset.phase = g.phase;
    root.dataset.step = String(g.step);
    root.dataset.set = String(g.set);
    this.el.title.textContent = g.title;
    this.el.progress.textContent = g.progress;
    this.el.progress.dataset.done = String(g.done);
    this.el.progress.dataset.target = String(g.target);
    this.el.bar.style.width = `${Math.min(100, (100 * g.done) / Math.max(1, g.target))}%`;
    this.el.nextLine.textContent = g.next ? `Next: ${g.next.text}` : (g.phase === 'done' ? 'Workout complete' : 'Last set');
    if (g.phase === 'rest' && g.rest_left_s != null) {
      this.restAt = { left: g.rest_left_s, total: g.rest_s, at: performance.now() };
      this.el.rest.hidden = false;
    } else {
      this.restAt = null;
      this.el.rest.hidden = true;
    }
    this.el.skip.textContent = g.phase === 'rest' ? 'Skip rest' : 'End set';
    this.el.more.hidden = g.phase !== 'rest';
    this.el.skip.hidden = g.phase === 'done';
    this.tick();
    const stepKey = `${g.step}`;
    if (stepKey !== this.lastStep && g.phase === 'work') {   // a new step: show its reference
      this.lastStep = stepKey;
      this.showReference(g.exercise);
    }
    if (g.phase === 'rest' && g.next && g.next.exercise !== g.exercise) this.showReference(g.next.exercise);
    this.renderSteps(this.planned());
    for (const p of prompts) {
      this.ui.speak(p.text);
      if (p.kind === 'set_done' || p.kind === 'done') {
        this.el.banner.textContent = p.kind === 'done' ? 'Workout complete' : 'Set done';
        this.el.banner.hidden = false;
        this.el.banner.dataset.at = String(Date.now());
        clearTimeout(this.bannerTimer);
        this.bannerTimer = setTimeout(() => { this.el.banner.hidden = true; }, 6000);
      }
      if (p.kind === 'go') this.el.banner.hidden = true;
    }
    if (g.phase === 'done' && !this.ending && this.ui.live()) {
      this.ending = true;   // the plan is over: end the session, show the summary
      setTimeout(() => this.ui.endSession(), 2500);
    }
  }

  tick() {
    if (!this.restAt) return;
    const left = Math.max(0, this.restAt.left - (performance.now() - this.restAt.at) / 1000);
    const whole = Math.ceil(left);
    this.el.restLeft.textContent = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
    this.el.rest.dataset.left = left.toFixed(1);
    const ring = this.el.rest.querySelector('.rest-ring');
    if (ring && this.restAt.total) ring.style.setProperty('--left', String(left / this.restAt.total));
  }

  onEnded(msg) {
    this.el.panel.hidden = true;
    this.restAt = null;
    this.guide = null;
    this.lastStep = null;
    this.player.stop();
    this.el.ref.hidden = true;
    if (msg.plan_result) setTimeout(() => this.pick(), 500);   // the next session's suggestions
  }

  // The plan's part of the summary: done against planned per step.
  summaryHtml(result) {
    if (!result) return '';
    const rows = result.steps.map((s) => {
      const unit = s.hold ? ' s' : '';
      const form = s.hold ? pct(s.good_share) : `${pct(s.good_share)}${s.form_score != null ? ` · ${Math.round(s.form_score)}` : ''}`;
      const sets = s.sets.map((x) => `${num(x.done)}/${num(x.target)}${unit}`).join(', ') || 'not started';
      return `<tr data-exercise="${esc(s.exercise)}" data-complete="${s.complete}"><td>${esc(s.display)}</td>`
        + `<td>${s.sets_done}/${s.planned_sets}</td><td>${num(s.done_total)}/${num(s.planned_total)}${unit}</td>`
        + `<td class="muted">${esc(sets)}</td><td>${form}</td><td>${s.complete ? '✓' : '–'}</td></tr>`;
    }).join('');
    return `<section class="plan-summary" data-testid="plan-summary" data-adherence="${result.adherence}">
      <h3>${esc(result.name)}: ${pct(result.adherence)} of the plan done${result.complete ? ' ✓' : ''}</h3>
      <table class="table"><thead><tr><th>Step</th><th>Sets</th><th>Done / planned</th><th>Per set</th><th>Good form</th><th></th></tr></thead>
      <tbody>${rows}</tbody></table></section>`;
  }

  // --- the editor ---------------------------------------------------------------------------
  openEditor(plan) {
    this.editing = plan && !plan.builtin ? plan.id : null;
    this.el.edName.value = plan ? (plan.builtin ? `${plan.name} (mine)` : plan.name) : '';
    this.el.edSteps.innerHTML = '';
    for (const s of plan?.steps || [{ exercise: 'squat', sets: 3, reps: 10, rest_s: 60 }]) this.addEditorRow(s);
    this.el.edError.textContent = '';
    this.el.editor.hidden = false;
    this.el.edName.focus();
  }

  addEditorRow(s) {
    const cat = this.ui.catalogue();
    const li = document.createElement('li');
    const opts = [...cat.values()].map((e) => `<option value="${esc(e.name)}" ${e.name === s.exercise ? 'selected' : ''}>${esc(e.display)}</option>`).join('');
    li.innerHTML = `<select data-f="exercise">${opts}</select>
      <label>sets <input data-f="sets" type="number" min="1" max="20" value="${s.sets ?? 3}"></label>
      <label><span data-f="unit">reps</span> <input data-f="target" type="number" min="1" value="${s.hold_s ?? s.reps ?? 10}"></label>
      <label>rest s <input data-f="rest_s" type="number" min="0" value="${s.rest_s ?? 60}"></label>
      <button type="button" class="link-btn" data-f="del" aria-label="Remove the step">✕</button>`;
    const unit = () => { li.querySelector('[data-f="unit"]').textContent = cat.get(li.querySelector('[data-f="exercise"]').value)?.hold ? 'hold s' : 'reps'; };
    li.querySelector('[data-f="exercise"]').addEventListener('change', unit);
    li.querySelector('[data-f="del"]').addEventListener('click', () => li.remove());
    unit();
    this.el.edSteps.appendChild(li);
  }

  async saveEditor() {
    const cat = this.ui.catalogue();
    const steps = [...this.el.edSteps.children].map((li) => {
      const v = (f) => li.querySelector(`[data-f="${f}"]`).value;
      const ex = v('exercise');
      const step = { exercise: ex, sets: Number(v('sets')), rest_s: Number(v('rest_s')) };
      step[cat.get(ex)?.hold ? 'hold_s' : 'reps'] = Number(v('target'));
      return step;
    });
    const body = JSON.stringify({ name: this.el.edName.value, steps });
    const path = this.editing ? `/api/plans/${encodeURIComponent(this.editing)}` : '/api/plans';
    const r = await fetch(this.ui.withToken(`${path}${this.profileQuery()}`), {
      method: this.editing ? 'PUT' : 'POST', headers: { 'Content-Type': 'application/json' }, body,
    });
    const doc = await r.json().catch(() => ({}));
    if (!r.ok) { this.el.edError.textContent = doc.message || `the server said ${r.status}`; return; }
    await this.load(doc.id);
    this.el.editor.hidden = true;
    this.ui.toast(this.editing ? 'Plan saved.' : 'Plan added.');
  }

  async removePicked() {
    const plan = this.picked();
    if (!plan || plan.builtin) return;
    if (!window.confirm(`Remove the plan “${plan.name}”? Its sessions stay in the history.`)) return;
    const r = await fetch(this.ui.withToken(`/api/plans/${encodeURIComponent(plan.id)}${this.profileQuery()}`), { method: 'DELETE' });
    if (!r.ok) { this.ui.toast('Could not remove the plan.', 'error'); return; }
    this.ui.toast('Plan removed.');
    await this.load('');
  }
}
