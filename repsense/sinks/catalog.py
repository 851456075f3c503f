"""The exercise catalogue as a person reads it (``repsense exercises``) and as JSON: for each
exercise what is counted, the camera view it wants, and the form rules with their cues."""

from __future__ import annotations

import textwrap
from typing import Any

from repsense.engine.specs import ExerciseSpec, FormRule

VIEW_WORDS = {"side": "from the side", "front": "from the front", "any": "any view"}
WHEN_WORDS = {"rep": "during the rep", "bottom": "at the turning point",
              "top": "at the start position", "always": "while holding"}


def _joint(name: str) -> str:
    return name[:-4] if name.endswith("_mid") else name


ORIENTATION = {"side": "Side-on to the camera", "front": "Facing the camera",
               "both": "From the side or the front", "any": "From any side"}


def _plural_joint(name: str) -> str:
    return {"hip_mid": "hips", "shoulder_mid": "shoulders"}.get(name, name + "s")


def placement_hint(spec: ExerciseSpec) -> str:
    """Where to stand for ``spec``, from its description: the view its camera section asks for (or,
    when any view counts, the one its form rules judge from) and the joints that must be seen.
    ("Side-on to the camera: your whole body in view.")"""
    view = spec.camera.view
    if view not in ("side", "front"):
        judged = {r.view for r in spec.form if r.view in ("side", "front")}
        view = judged.pop() if len(judged) == 1 else "both" if judged else "any"
    parts = list(dict.fromkeys(spec.camera.visible))
    if not parts or ("ankle" in parts and len(parts) >= 3):
        body = "your whole body"
    else:
        names = [_plural_joint(p) for p in parts]
        body = "your " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])
    return f"{ORIENTATION[view]}: {body} in view."


def signal_label(spec: ExerciseSpec | None) -> tuple[str, str]:
    """What drives the count of ``spec``, in words, and its unit: ("knee angle", "deg")."""
    sig = spec.signal if spec is not None else None
    if spec is not None and spec.is_hold:
        return "in position", "1 = yes, 0 = no"
    if sig is None or sig.type == "motion":
        return "movement along its main direction", "body sizes"
    if sig.type == "angle":
        return f"{_joint(sig.joints[1])} angle", "deg"
    a, b = (_joint(j) for j in sig.joints)
    return f"{a}-{b} tilt from vertical", "deg"


def counted(spec: ExerciseSpec) -> str:
    """One sentence: what makes a rep (or what the clock times)."""
    if spec.hold is not None:
        return (f"time held in position ({', '.join(p.name for p in spec.hold.positions)}); the "
                f"clock starts after {spec.hold.enter_s:g} s in position")
    label, unit = signal_label(spec)
    sig = spec.signal
    assert sig is not None and spec.count is not None
    joints = f" ({'-'.join(_joint(j) for j in sig.joints)})" if sig.type == "angle" else ""
    each = ", each side counted apart" if sig.side == "each" else ""
    return (f"reps of the {label}{joints}: a rep moves it by {spec.count.min_rom:g} {unit} or more "
            f"and back, in {spec.count.min_rep_s:g}-{spec.count.max_rep_s:g} s{each}")


def rule_range(rule: FormRule) -> str:
    lo, hi = rule.min, rule.max
    if lo is not None and hi is not None:
        return f"{rule.measure} in {lo:g}..{hi:g}"
    return f"{rule.measure} {'>=' if lo is not None else '<='} {lo if lo is not None else hi:g}"


def catalog_doc() -> dict[str, Any]:
    from repsense.engine.exercises import catalog, user_catalog

    exercises = []
    taught = user_catalog()
    for name, spec in sorted(catalog().items()):
        label, unit = signal_label(spec)
        exercises.append({
            "name": name, "display": spec.display, "kind": "hold" if spec.is_hold else "reps",
            "taught": name in taught,
            "counted": counted(spec), "signal": None if spec.is_hold else {"label": label, "unit": unit},
            "camera_view": spec.camera.view, "visible_joints": list(spec.camera.visible),
            "notes": " ".join(spec.notes.split()),
            "form": [{"code": r.code, "cue": r.cue, "severity": r.severity, "view": r.view,
                      "when": r.when, "measure": r.measure, "min": r.min, "max": r.max,
                      "source": r.source} for r in spec.form],
        })
    return {"exercises": exercises,
            "also": {"auto": "recognise the exercise (and follow switches between exercises)",
                     "generic": "count any repeated movement, without form rules"},
            "severity": {"info": "a tip: the rep still counts as good",
                         "warning": "a fault: the rep is not good",
                         "critical": "a fault: the rep is not good"}}


def format_catalog(width: int = 100) -> str:
    """The catalogue as text."""
    from repsense.engine.exercises import catalog, library_dir, user_catalog

    out: list[str] = []
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="      ")
    taught = user_catalog()
    for name, spec in sorted(catalog().items()):
        mark = "taught, " if name in taught else ""
        out.append(f"{name}  ({mark}{spec.display}; camera: "
                   f"{VIEW_WORDS.get(spec.camera.view, spec.camera.view)})")
        out.extend(wrap.wrap(counted(spec)))
        for r in spec.form:
            view = "" if r.view == "any" else f", {VIEW_WORDS[r.view]}"
            tag = "tip" if r.severity == "info" else r.severity
            out.extend(wrap.wrap(f"[{tag}] {r.code}: \"{r.cue}\" ({rule_range(r)}, "
                                 f"{WHEN_WORDS.get(r.when, r.when)}{view})"))
        out.append("")
    out.append("auto     recognise the exercise and follow switches (the default of analyze)")
    out.append("generic  count any repeated movement, without form rules")
    out.append("A rep is good when it shows no fault of warning severity; tips ([tip]) do not "
               "make a rep bad.")
    out.append(f"Taught exercises (repsense teach) live in {library_dir()}"
               f"{'' if taught else ' (none yet)'}.")
    return "\n".join(out)


__all__ = ["catalog_doc", "counted", "format_catalog", "signal_label"]
