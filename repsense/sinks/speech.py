"""Spoken coaching: events -> words -> voice, offline.

``utterance(event)`` is the one place that decides what is said (the count, the cue text of the
exercise description, the exercise's name); the web page speaks the same words with the browser's
speech. Voices come from espeak-ng (Debian package ``espeak-ng``, installed by setup.sh); a short
tone marks a good rep.

- ``Speaker``: a live sink. Feed it events as the engine makes them; a background thread speaks,
  cues before counts, and drops counts that fell behind (a coach says "7", not "5, 6, 7").
- ``render_track``: the same words placed on the input's time line in a WAV file, for a recorded
  set (``repsense analyze VIDEO --speak-wav OUT.wav``).
"""

from __future__ import annotations

import io
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from repsense.errors import RepsenseError
from repsense.engine.events import (Event, ExerciseDetected, FormWarning, HoldUpdated, RepCompleted,
                             SessionEnded)

RATE_WPM = 170
VOICE = "en-us"
TONE_HZ = 880.0
TONE_S = 0.12
SAMPLE_RATE = 22050          # espeak-ng's output rate
PLAYERS = ("pw-play", "paplay", "aplay", "afplay")
HOLD_CALL_EVERY_S = 10       # a hold's time is called every this many seconds


@dataclass(frozen=True)
class Utterance:
    t_ms: int
    text: str           # may be empty when only the tone is played
    tone: bool = False  # a good rep
    priority: int = 0   # 2 cues, 1 counts and the rest


def utterance(event: Event) -> Utterance | None:
    """What a coach says for an event, or None."""
    t = event.timestamp_ms
    if isinstance(event, FormWarning):
        return Utterance(t, event.message, priority=2)
    if isinstance(event, RepCompleted):
        return Utterance(t, str(event.count), tone=event.form_score is not None and event.good,
                         priority=1)
    if isinstance(event, ExerciseDetected):
        from repsense.engine.exercises import catalog

        spec = catalog().get(event.exercise)
        if spec is None:
            return None
        return Utterance(t, spec.display + ("" if spec.is_hold else "s"), priority=1)
    if isinstance(event, HoldUpdated):
        whole = int(event.held_s)
        if not event.holding:
            return Utterance(t, f"Held {whole} seconds.", priority=1)
        if whole > 0 and whole % HOLD_CALL_EVERY_S == 0:
            return Utterance(t, f"{whole} seconds", priority=1)
        return None
    if isinstance(event, SessionEnded) and event.total_reps:
        return Utterance(t, f"{event.total_reps} reps. Well done.", priority=1)
    return None


def espeak() -> str:
    """The espeak-ng executable, or a clear error."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise RepsenseError("spoken cues need espeak-ng: run setup.sh, or install it "
                            "(Debian/Ubuntu: sudo apt-get install espeak-ng)")
    return exe


def audio_device() -> str | None:
    """Where live speech would play (a sound card, PulseAudio or PipeWire), or None when this
    machine has none (a server, a container): then ``--speak`` would say nothing."""
    if sys.platform != "linux":
        return "system audio"
    if os.environ.get("PULSE_SERVER"):
        return "PulseAudio"
    runtime = pathlib.Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}")
    for name, label in (("pipewire-0", "PipeWire"), ("pulse/native", "PulseAudio")):
        if (runtime / name).exists():
            return label
    if any(pathlib.Path("/dev/snd").glob("pcmC*D*p")):
        return "ALSA"
    return None


def synthesize(text: str, voice: str = VOICE, rate: int = RATE_WPM) -> np.ndarray:
    """``text`` spoken by espeak-ng as float32 samples at SAMPLE_RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = pathlib.Path(tmp) / "say.wav"
        proc = subprocess.run([espeak(), "-v", voice, "-s", str(rate), "-w", str(wav), "--", text],
                              capture_output=True, timeout=30)
        if proc.returncode != 0 or not wav.is_file():
            raise RepsenseError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
        return _read_wav(wav.read_bytes())


def _read_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise RepsenseError("espeak-ng wrote an unexpected WAV format")
        frames = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32)
        if w.getnchannels() > 1:
            frames = frames.reshape(-1, w.getnchannels()).mean(axis=1)
        if w.getframerate() != SAMPLE_RATE:
            n = int(len(frames) * SAMPLE_RATE / w.getframerate())
            frames = np.interp(np.linspace(0, len(frames) - 1, n), np.arange(len(frames)), frames)
    return (frames / 32768.0).astype(np.float32)


def tone(hz: float = TONE_HZ, seconds: float = TONE_S) -> np.ndarray:
    """A short sine beep with soft edges."""
    n = int(SAMPLE_RATE * seconds)
    t = np.arange(n) / SAMPLE_RATE
    env = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    return (0.4 * np.sin(2 * np.pi * hz * t) * env).astype(np.float32)


def wav_bytes(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


def render_track(events: Iterable[Event], out: str | pathlib.Path, duration_s: float,
                 start_s: float = 0.0) -> int:
    """Write the spoken cues and counts of ``events`` into a mono WAV of exactly ``duration_s``
    seconds aligned with the input (time ``start_s`` of the source is 0 in the file); an utterance
    that would overlap the previous one waits for it, one that would run past the end starts
    earlier (or is cut, fading out, when there is no room). Returns the number of utterances
    placed."""
    says = [u for u in (utterance(e) for e in events) if u is not None]
    track = np.zeros(int(max(duration_s, 0.0) * SAMPLE_RATE) + 1, np.float32)
    cache: dict[str, np.ndarray] = {}
    free_at = 0
    for u in says:
        clip = tone() if u.tone else np.zeros(0, np.float32)
        if u.text:
            if u.text not in cache:
                cache[u.text] = synthesize(u.text)
            clip = np.concatenate([clip, cache[u.text]])
        at = max(int((u.t_ms / 1000.0 - start_s) * SAMPLE_RATE), free_at, 0)
        if at + len(clip) > len(track):   # the end of the input: say it earlier, or cut it
            at = max(min(at, len(track) - len(clip)), min(free_at, len(track)), 0)
            room = len(track) - at
            if room < len(clip):
                fade = min(room, int(0.05 * SAMPLE_RATE))
                clip = clip[:room].copy()
                if fade:
                    clip[room - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        if not len(clip):
            continue
        track[at:at + len(clip)] += clip
        free_at = at + len(clip) + int(0.15 * SAMPLE_RATE)
    out = pathlib.Path(out)
    try:
        out.write_bytes(wav_bytes(track))
    except OSError as exc:
        raise RepsenseError(f"{out}: cannot write the speech track: {exc.strerror}") from None
    return len(says)


def pick(waiting: list[Utterance], backlog: int = 3) -> tuple[Utterance | None, list[Utterance]]:
    """What to say next from the waiting utterances, and what stays waiting: cues first (most
    recent first), then the newest count; older counts are stale and dropped; at most
    ``backlog`` stay."""
    if not waiting:
        return None, []
    newest = max((u for u in waiting if u.priority < 2), key=lambda u: u.t_ms, default=None)
    live = [u for u in waiting if u.priority >= 2 or u is newest]
    best = max(live, key=lambda u: (u.priority, u.t_ms))
    return best, [u for u in live if u is not best][-backlog:]


class Speaker:
    """Speaks events live, in a background thread. ``handle(events)`` never blocks."""

    MAX_BACKLOG = 3

    def __init__(self, voice: str = VOICE, rate: int = RATE_WPM) -> None:
        self.exe = espeak()
        self.voice, self.rate = voice, rate
        self.player = next((p for p in PLAYERS if shutil.which(p)), None)
        self._queue: queue.Queue[Utterance | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="repsense-speaker", daemon=True)
        self._thread.start()
        self._warned = False

    def handle(self, events: Iterable[Event]) -> None:
        for e in events:
            u = utterance(e)
            if u is not None:
                self._queue.put(u)

    def close(self, wait: bool = True) -> None:
        self._queue.put(None)
        if wait:
            self._thread.join(timeout=30)

    def _next(self) -> Utterance | None:
        """The most urgent waiting utterance: cues first; of counts only the newest."""
        items: list[Utterance | None] = [self._queue.get()]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = None in items
        best, keep = pick([u for u in items if u is not None], self.MAX_BACKLOG)
        for u in keep:
            self._queue.put(u)
        if stop:
            self._queue.put(None)
        return best

    def _run(self) -> None:
        while True:
            u = self._next()
            if u is None:
                return
            try:
                if u.tone and self.player:
                    self._play(wav_bytes(tone()))
                if u.text:
                    subprocess.run([self.exe, "-v", self.voice, "-s", str(self.rate), "--", u.text],
                                   capture_output=True, timeout=30, check=True)
            except (OSError, subprocess.SubprocessError) as exc:
                if not self._warned:
                    self._warned = True
                    print(f"repsense: cannot speak ({exc}); is there an audio device?",
                          file=sys.stderr)
                time.sleep(0.1)

    def _play(self, data: bytes) -> None:
        assert self.player is not None
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(data)
            f.flush()
            subprocess.run([self.player, f.name], capture_output=True, timeout=10, check=True)
