// Drawing: the skeleton (live, played back, faulty joints) on the canvas over the video.

import { el, state, stats } from './state.js';

const ctx = el.canvas.getContext('2d');

// Landmark pairs drawn as bones (MediaPipe's 33-point body); the face is drawn as points only.
const BONES = [
  [11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24],
  [23, 25], [25, 27], [24, 26], [26, 28], [27, 29], [29, 31], [27, 31], [28, 30], [30, 32],
  [28, 32], [15, 17], [15, 19], [17, 19], [16, 18], [16, 20], [18, 20], [15, 21], [16, 22],
];

const BODY_POINTS = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];

const FACE_POINTS = [0, 2, 5, 7, 8];

const PALETTE = {
  live: { bone: '#34d399', joint: '#ecfdf5' },
  playback: { bone: '#a78bfa', joint: '#f5d0fe' },
  fault: '#ff7a1a',
};

export function sizeCanvas(w, h) {
  if (!w || !h) return;
  if (el.canvas.width !== w || el.canvas.height !== h) { el.canvas.width = w; el.canvas.height = h; }
  el.stage.style.setProperty('--aspect', `${w} / ${h}`);
}

function drawBackdrop() {
  const { width: w, height: h } = el.canvas;
  const g = ctx.createLinearGradient(0, 0, 0, h);
  g.addColorStop(0, '#121a33'); g.addColorStop(1, '#0a0f1f');
  ctx.fillStyle = g; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = 'rgba(148,163,184,0.08)'; ctx.lineWidth = 1;
  const step = Math.max(24, Math.round(w / 24));
  for (let x = step; x < w; x += step) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke(); }
  for (let y = step; y < h; y += step) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke(); }
}

function drawSkeleton(lm, colours, faults = []) {
  if (!lm) return false;
  const { width: w, height: h } = el.canvas;
  const scale = Math.max(w, h) / 640;
  const faulty = new Set(faults);
  const ok = (p) => p && Number.isFinite(p[0]) && Number.isFinite(p[1]) && (p[3] == null || p[3] > 0.25);
  ctx.lineCap = 'round';
  for (const [a, b] of BONES) {
    const p = lm[a]; const q = lm[b];
    if (!ok(p) || !ok(q)) continue;
    const bad = faulty.has(a) && faulty.has(b);
    ctx.strokeStyle = bad ? PALETTE.fault : colours.bone;
    ctx.lineWidth = (bad ? 6 : 4) * scale;
    ctx.globalAlpha = Math.min(1, 0.35 + Math.min(p[3] ?? 1, q[3] ?? 1));
    ctx.beginPath(); ctx.moveTo(p[0] * w, p[1] * h); ctx.lineTo(q[0] * w, q[1] * h); ctx.stroke();
  }
  ctx.globalAlpha = 1;
  for (const i of [...BODY_POINTS, ...FACE_POINTS]) {
    const p = lm[i];
    if (!ok(p)) continue;
    const bad = faulty.has(i);
    const r = (bad ? 9 : (FACE_POINTS.includes(i) ? 2.5 : 4.5)) * scale;
    if (bad) {
      ctx.fillStyle = 'rgba(255,122,26,0.28)';
      ctx.beginPath(); ctx.arc(p[0] * w, p[1] * h, r * 2.2, 0, Math.PI * 2); ctx.fill();
    }
    ctx.fillStyle = bad ? PALETTE.fault : colours.joint;
    ctx.beginPath(); ctx.arc(p[0] * w, p[1] * h, r, 0, Math.PI * 2); ctx.fill();
  }
  return true;
}

export function redraw() {
  ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
  const noVideo = state.demo || !state.stream || state.cameraError;
  if (noVideo && (state.demo || state.playbackFrame)) drawBackdrop();
  if (state.peopleMode && !state.demo) {
    // several people: each skeleton in its person's colour once the server has said who is who
    const people = state.session && state.peopleDraw ? state.peopleDraw
      : (state.livePoses || []).map((pose) => ({ pose, colour: '#e2e8f0', faults: [] }));
    let drawn = false;
    for (const p of people) drawn = drawSkeleton(p.pose, { bone: p.colour, joint: '#ffffff' }, p.faults) || drawn;
    if (drawn) { stats.drawn += 1; el.canvas.dataset.drawn = String(stats.drawn); }
  } else if (drawSkeleton(state.live, PALETTE.live, state.faultJoints)) {
    stats.drawn += 1; el.canvas.dataset.drawn = String(stats.drawn);
  }
  if (drawSkeleton(state.playbackFrame, PALETTE.playback)) {
    stats.playbackDrawn += 1; el.canvas.dataset.playbackDrawn = String(stats.playbackDrawn);
  }
}
