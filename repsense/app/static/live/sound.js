// Sound: spoken cues and the good-rep tone.

import { el, state, stats } from './state.js';

export function setMuted(muted) {
  state.muted = muted;
  localStorage.setItem('repsense.muted', muted ? '1' : '0');
  el.mute.setAttribute('aria-pressed', String(muted));
  document.body.classList.toggle('muted-sound', muted);
  if (muted && 'speechSynthesis' in window) window.speechSynthesis.cancel();
}

export function unlockAudio() {
  try {
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (state.audio.state === 'suspended') state.audio.resume();
  } catch { state.audio = null; }
}

export function tone() {
  stats.tones += 1;
  if (state.muted || !state.audio) return;
  const t0 = state.audio.currentTime;
  const osc = state.audio.createOscillator();
  const gain = state.audio.createGain();
  osc.type = 'sine'; osc.frequency.value = 1320;
  gain.gain.setValueAtTime(0.0001, t0);
  gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.16);
  osc.connect(gain).connect(state.audio.destination);
  osc.start(t0); osc.stop(t0 + 0.18);
}

export function speak(text) {
  stats.spoken.push(text);
  if (state.muted || !('speechSynthesis' in window) || !text) return;
  const synth = window.speechSynthesis;
  if (synth.speaking || synth.pending) synth.cancel();   // say the newest cue, not a queue
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.05;
  synth.speak(u);
}
