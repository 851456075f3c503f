"""Teaching repsense an exercise (``repsense teach``, ``POST /api/teach``): a recording in, a
description and the recogniser's prototypes saved in the user's library, and export / import of
taught exercises as one TOML file.

The learning itself is pure and lives in :mod:`repsense.engine.teach`; the recogniser's add-on in
:mod:`repsense.recognition.taught`. This module does the files.
"""

from __future__ import annotations

import base64
import pathlib
import tomllib
from dataclasses import dataclass

from repsense.engine.exercises import (builtin_catalog, library_dir, load_spec_file, parse_spec,
                                       user_catalog)
from repsense.engine.teach import Taught, check_name, learn
from repsense.errors import InputError
from repsense.pose import PoseRecording
from repsense.recognition.taught import SUFFIX, Prototypes

# The exported file carries the recogniser's prototypes in this [extra] key (base64 of the npz).
PROTOTYPES_KEY = "recognizer_prototypes"


@dataclass
class Lesson:
    """A recording, what was learned from it and the recogniser's prototypes of it."""

    recording: PoseRecording
    taught: Taught
    prototypes: Prototypes


def teach_recording(rec: PoseRecording, name: str, source: str = "") -> Lesson:
    """Learn ``name`` from a recording of one set (already cut to the set); InputError with a
    one-line reason when it cannot be learned."""
    name = check_name(name)
    if name in builtin_catalog():
        raise InputError(f"{name!r} is a shipped exercise (read-only): choose another name, "
                         f"e.g. my_{name}")
    taught = learn(rec.landmarks, rec.timestamp_ms, rec.aspect, name, source=source)
    prototypes = Prototypes.learn(name, rec.landmarks, rec.timestamp_ms, rec.aspect)
    return Lesson(rec, taught, prototypes)


def teach_file(path: str | pathlib.Path, name: str, start_s: float | None = None,
               end_s: float | None = None, model: str = "full") -> Lesson:
    """Learn from a video or a pose recording (``.npz``), optionally cut to ``start_s..end_s``."""
    from repsense.sources import load_input, select_span

    rec = load_input(path, model=model)
    rec = select_span(rec, start_s, end_s)
    return teach_recording(rec, name, source=pathlib.Path(path).name)


def save_lesson(lesson: Lesson, folder: pathlib.Path | None = None,
                overwrite: bool = True) -> pathlib.Path:
    """Write the description and the prototypes into the user's library; the TOML's path."""
    folder = folder if folder is not None else library_dir()
    name = lesson.taught.spec.name
    path = folder / f"{name}.toml"
    if path.exists() and not overwrite:
        raise InputError(f"{name!r} is already in your library: replace it (--overwrite), "
                         "remove it first, or choose another name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lesson.prototypes.save(folder / f"{name}{SUFFIX}")
        path.write_text(lesson.taught.text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write to your exercise library {folder}: {exc}") from None
    load_spec_file(path)   # what was written loads like a built-in
    return path


def save_taught(taught: Taught, rec: PoseRecording, folder: pathlib.Path | None = None) -> pathlib.Path:
    """Save an already learned description with the prototypes of ``rec``."""
    protos = Prototypes.learn(taught.spec.name, rec.landmarks, rec.timestamp_ms, rec.aspect)
    return save_lesson(Lesson(rec, taught, protos), folder)


def remove(name: str, folder: pathlib.Path | None = None) -> None:
    folder = folder if folder is not None else library_dir()
    if name in builtin_catalog():
        raise InputError(f"{name!r} is a shipped exercise: it cannot be removed")
    path = folder / f"{name}.toml"
    if not path.is_file():
        raise InputError(f"{name!r} is not in your exercise library ({folder})")
    path.unlink()
    (folder / f"{name}{SUFFIX}").unlink(missing_ok=True)


def export(name: str, out: str | pathlib.Path, folder: pathlib.Path | None = None) -> pathlib.Path:
    """One TOML file with the description and (in ``[extra]``) the recogniser's prototypes."""
    folder = folder if folder is not None else library_dir()
    if name not in user_catalog():
        known = ", ".join(sorted(user_catalog())) or "none yet"
        raise InputError(f"{name!r} is not a taught exercise (yours: {known})")
    text = (folder / f"{name}.toml").read_text(encoding="utf-8")
    protos = folder / f"{name}{SUFFIX}"
    if protos.is_file():
        blob = base64.b64encode(protos.read_bytes()).decode("ascii")
        if "\n[extra]\n" not in "\n" + text:
            text += "\n[extra]\n"
        text = text.rstrip("\n") + f'\n{PROTOTYPES_KEY} = "{blob}"\n'
    out = pathlib.Path(out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc}") from None
    return out


def import_file(path: str | pathlib.Path, folder: pathlib.Path | None = None,
                name: str | None = None) -> str:
    """Add an exported (or hand-written) description to the library; its name."""
    folder = folder if folder is not None else library_dir()
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not an exercise description: {exc}") from None
    if name is not None:
        data["name"] = check_name(name)
    extra = dict(data.get("extra", {}))
    blob = extra.pop(PROTOTYPES_KEY, None)
    data["extra"] = extra
    spec = parse_spec(data, path.name)
    if spec.name in builtin_catalog():
        raise InputError(f"{path}: {spec.name!r} is a shipped exercise: import it under another "
                         "name (--as NAME)")
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith(f"{PROTOTYPES_KEY} =")]
    if name is not None:
        lines = [f"name = \"{spec.name}\"" if ln.startswith("name =") else ln for ln in lines]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{spec.name}.toml"
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if blob:
            protos = Prototypes.from_bytes(base64.b64decode(blob))
            protos.name = spec.name
            protos.save(folder / f"{spec.name}{SUFFIX}")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot import {path} into {folder}: {exc}") from None
    load_spec_file(target)
    return spec.name


def plot_lesson(lesson: Lesson, out: str | pathlib.Path) -> dict[str, str]:
    """The taught signal over the recording with the reps the taught description counts on it
    (repsense.sinks.plot)."""
    from repsense.session import analyze_recording
    from repsense.sinks.plot import write_plot

    analysis = analyze_recording(lesson.recording, lesson.taught.spec)
    return write_plot(analysis, out, spec=lesson.taught.spec)
