// Sound: spoken cues and the good-rep tone. The live page and the phone sensors page (sensors.js)
// both use this module; each hands it its own state (`muted`, `audio`), measurements (`tones`,
// `spoken`) and mute button once, with useSound(), before anything sounds.

let page = null;   // {state, stats, mute}

export function useSound(state, stats, mute) {
  page = { state, stats, mute };
}

export function setMuted(muted) {
  const { state, mute } = page;
  state.muted = muted;
  localStorage.setItem('repsense.muted', muted ? '1' : '0');
  mute.setAttribute('aria-pressed', String(muted));
  document.body.classList.toggle('muted-sound', muted);
  if (muted && 'speechSynthesis' in window) window.speechSynthesis.cancel();
}

export function unlockAudio() {
  const { state } = page;
  try {
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (state.audio.state === 'suspended') state.audio.resume();
  } catch { state.audio = null; }
}

export function tone() {
  const { state, stats } = page;
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
  const { state, stats } = page;
  stats.spoken.push(text);
  if (state.muted || !('speechSynthesis' in window) || !text) return;
  const synth = window.speechSynthesis;
  if (synth.speaking || synth.pending) synth.cancel();   // say the newest cue, not a queue
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.05;
  synth.speak(u);
}
