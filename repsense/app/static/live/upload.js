// Uploading a video and showing its analysis.

import { displayName, el, esc, humanize, withToken } from './state.js';

function setUploadProgress(fraction, text, status) {
  el.uploadProgress.hidden = false;
  el.uploadProgress.dataset.status = status;
  el.uploadBar.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  el.uploadStage.textContent = text;
}

export function uploadVideo() {
  const file = el.uploadFile.files && el.uploadFile.files[0];
  if (!file) return;
  el.uploadGo.disabled = true;
  el.uploadResult.hidden = true;
  const exercise = el.exSelect.value || 'auto';
  const xhr = new XMLHttpRequest();
  xhr.open('POST', withToken(`/api/analyze?name=${encodeURIComponent(file.name)}&exercise=${encodeURIComponent(exercise)}`));
  xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) setUploadProgress(0.15 * e.loaded / e.total, `Uploading ${Math.round(100 * e.loaded / e.total)}%`, 'uploading'); };
  xhr.onerror = () => { setUploadProgress(0, 'The upload failed: no connection to the server.', 'failed'); el.uploadGo.disabled = false; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* keep {} */ }
    if (xhr.status !== 202 || !body.job) {
      setUploadProgress(0, body.error || `The upload was refused (HTTP ${xhr.status}).`, 'failed');
      el.uploadGo.disabled = false;
      return;
    }
    pollJob(body.job);
  };
  setUploadProgress(0, 'Uploading…', 'uploading');
  xhr.send(file);
}

async function pollJob(job) {
  let doc;
  try {
    const r = await fetch(withToken(`/api/analyze/${encodeURIComponent(job)}`), { cache: 'no-store' });
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || `HTTP ${r.status}`);
  } catch (err) {
    setUploadProgress(0, `Lost track of the analysis: ${err.message}`, 'failed'); el.uploadGo.disabled = false; return;
  }
  if (doc.status === 'failed') {
    setUploadProgress(1, doc.error || 'The analysis failed.', 'failed'); el.uploadGo.disabled = false; return;
  }
  if (doc.status !== 'done') {
    const f = 0.15 + 0.85 * (doc.progress || 0);
    setUploadProgress(f, `${doc.status === 'queued' ? 'Waiting for the analyser' : humanize(doc.stage || 'analysing')} · ${Math.round(f * 100)}%`, doc.status);
    setTimeout(() => pollJob(job), 500);
    return;
  }
  setUploadProgress(1, 'Done', 'done');
  renderUploadResult(doc);
  el.uploadGo.disabled = false;
}

function renderUploadResult(doc) {
  const r = doc.report || {};
  const exercises = r.exercises || [];
  const faults = new Map();
  for (const e of exercises) for (const [c, n] of Object.entries(e.faults || {})) faults.set(c, (faults.get(c) || 0) + n);
  const cueFor = new Map((r.cues || []).map((c) => [c.code, c.message]));
  const repRows = [];
  for (const e of exercises) {
    (e.reps_detail || []).forEach((d, i) => {
      repRows.push(`<tr class="${d.good ? '' : 'bad'}"><td>${esc(displayName(e.name))}</td><td>${i + 1}</td><td>${d.start_s.toFixed(1)}–${d.end_s.toFixed(1)} s</td>`
        + `<td>${d.eccentric_s.toFixed(2)}</td><td>${(d.pause_s || 0).toFixed(2)}</td><td>${d.concentric_s.toFixed(2)}</td>`
        + `<td>${d.rom_pct != null ? `${Math.round(d.rom_pct)}%` : `${Math.round(d.rom_deg)}°`}</td>`
        + `<td>${d.form_score != null ? Math.round(d.form_score) : '–'}</td><td>${(d.faults || []).map((f) => esc(humanize(f.code))).join(', ') || '–'}</td></tr>`);
    });
  }
  const counts = exercises.map((e) => `<div class="stat" data-exercise="${esc(e.name)}"><b>${e.reps ? e.reps : `${(e.hold_s || 0).toFixed(1)} s`}</b><span>${esc(displayName(e.name))}${e.reps ? ` · ${e.good_reps} good` : ' held'}</span></div>`).join('');
  el.uploadResult.innerHTML = `
    <div class="stat-grid">
      <div class="stat"><b data-testid="upload-total">${r.total_reps ?? 0}</b><span>reps in ${esc(doc.name || r.path || 'the video')}</span></div>
      ${counts}
    </div>
    <div class="upload-media">
      <figure>${doc.video ? `<video controls playsinline muted preload="auto" data-testid="upload-video" src="${esc(withToken(doc.video))}"></video>` : '<p class="muted">No annotated video.</p>'}
        <figcaption>Annotated video: skeleton, count and cues.</figcaption></figure>
      <figure>${doc.plot ? `<img data-testid="upload-plot" alt="The driving signal with the reps marked" src="${esc(withToken(doc.plot))}">` : '<p class="muted">No plot.</p>'}
        <figcaption>The signal that drives the count, reps marked.</figcaption></figure>
    </div>
    <h3>Every rep</h3>
    ${repRows.length ? `<div class="table-wrap"><table class="table" data-testid="upload-reps"><thead><tr><th>Exercise</th><th>#</th><th>When</th><th>Ecc. s</th><th>Pause s</th><th>Con. s</th><th>ROM</th><th>Form</th><th>Faults</th></tr></thead><tbody>${repRows.join('')}</tbody></table></div>`
    : '<p class="muted">No reps were counted.</p>'}
    <h3>Faults</h3>
    ${faults.size ? `<ul class="plain faults" data-testid="upload-faults">${[...faults.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `<li><b>${esc(humanize(c))}</b> ×${n}<span class="muted"> — ${esc(cueFor.get(c) || '')}</span></li>`).join('')}</ul>`
    : '<p class="muted" data-testid="upload-faults">No faults.</p>'}`;
  el.uploadResult.hidden = false;
  el.uploadResult.dataset.total = String(r.total_reps ?? 0);
}
