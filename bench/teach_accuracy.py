"""Teaching accuracy: learn an exercise from the first two labelled reps of a dev clip, then count
with what was learned.

1. Exercises with no description (front raise, lateral raise, row, dip, glute bridge): teach from
   the span of the clip's first two labelled reps, count the whole clip with the taught exercise;
   scored on being within one of the label (the generic counter's count beside it).
2. Squats, push-ups, curls: teach from each clip of the exercise in turn, count every other clip of
   it whole; the taught exercise's off-by-one rate and normalised MAE against the generic counter's
   and the built-in description's on the same clips.
3. Recognition (``--auto``): with each taught exercise in a temporary library, ``--exercise auto``
   on the clip it was taught from, and on the rest of the clip after the taught span (these
   exercises have one dev clip each, so the held-out part stands for another clip), names it.

Poses come from the cache (``--poses``, default /work/cache/poses; see bench/count_accuracy.py).

    .venv/bin/python bench/teach_accuracy.py [--poses DIR] [--auto]
"""

from __future__ import annotations

import argparse
import csv
import os
import pathlib
import sys
import tempfile
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from count_accuracy import DATA, labelled_clips  # noqa: E402

UNDESCRIBED = ("front_raise", "lateral_raise", "row", "dip", "glute_bridge")
DESCRIBED = ("squat", "push_up", "biceps_curl")
POSES = pathlib.Path("/work/cache/poses")


@dataclass(frozen=True)
class LabelledClip:
    stem: str
    exercise: str
    count: int
    start_s: float
    end_s: float
    rep_times: tuple[float, ...]

    def teach_span(self) -> tuple[float, float]:
        """From the labelled start to halfway between the second and third rep (the end of the
        labelled span when there are only two)."""
        r = self.rep_times
        end = (r[1] + r[2]) / 2.0 if len(r) > 2 else self.end_s
        return self.start_s, end


def clips(data: pathlib.Path = DATA) -> list[LabelledClip]:
    out = []
    with open(data / "clips" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            if not row["count"] or not row["rep_times_s"].strip():
                continue
            out.append(LabelledClip(pathlib.Path(row["file"]).stem, row["exercise"],
                                    int(float(row["count"])), float(row["t_start_s"]),
                                    float(row["t_end_s"]),
                                    tuple(float(x) for x in row["rep_times_s"].split())))
    return out


def recording(stem: str, poses: pathlib.Path):  # type: ignore[no-untyped-def]
    from repsense.pose import PoseRecording

    return PoseRecording.load(poses / f"{stem}.npz")


def teach(clip: LabelledClip, poses: pathlib.Path, name: str | None = None):  # type: ignore[no-untyped-def]
    from repsense.engine.teach import learn
    from repsense.sources import select_span

    rec = select_span(recording(clip.stem, poses), *clip.teach_span())
    return learn(rec.landmarks, rec.timestamp_ms, rec.aspect, name or f"taught_{clip.exercise}",
                 source=clip.stem)


def count(rec, exercise) -> int:  # type: ignore[no-untyped-def]
    from repsense.session import analyze_recording

    return int(analyze_recording(rec, exercise).report.total_reps)


def undescribed(poses: pathlib.Path) -> list[dict]:
    rows = []
    for clip in clips():
        if clip.exercise not in UNDESCRIBED:
            continue
        taught = teach(clip, poses)
        rec = recording(clip.stem, poses)
        rows.append({"clip": clip.stem, "exercise": clip.exercise, "true": clip.count,
                     "taught": count(rec, taught.spec), "generic": count(rec, "generic"),
                     "signal": taught.chosen.label(), "taught_reps": len(taught.chosen.reps)})
    return rows


def described(poses: pathlib.Path) -> list[dict]:
    rows = []
    by_ex = {ex: [c for c in clips() if c.exercise == ex] for ex in DESCRIBED}
    for ex, group in by_ex.items():
        for teacher in group:
            try:
                taught = teach(teacher, poses)
            except Exception as exc:   # noqa: BLE001 - reported as a row
                rows.append({"exercise": ex, "teacher": teacher.stem, "error": str(exc)})
                continue
            for clip in group:
                if clip is teacher:
                    continue
                rec = recording(clip.stem, poses)
                rows.append({"exercise": ex, "teacher": teacher.stem, "clip": clip.stem,
                             "true": clip.count, "taught": count(rec, taught.spec),
                             "signal": taught.chosen.label()})
    return rows


def summary(rows: list[dict], key: str) -> tuple[float, float]:
    scored = [r for r in rows if key in r]
    ok = sum(abs(r[key] - r["true"]) <= 1 for r in scored) / len(scored)
    nmae = sum(abs(r[key] - r["true"]) / r["true"] for r in scored) / len(scored)
    return ok, nmae


def baselines(poses: pathlib.Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for clip in clips():
        if clip.exercise in DESCRIBED:
            rec = recording(clip.stem, poses)
            out[clip.stem] = {"generic": count(rec, "generic"), "builtin": count(rec, clip.exercise)}
    return out


def auto_check(poses: pathlib.Path) -> list[dict]:
    """Recognition of each undescribed exercise, taught into a temporary library (the variable
    REPSENSE_EXERCISES is restored after)."""
    before = os.environ.get("REPSENSE_EXERCISES")
    with tempfile.TemporaryDirectory() as lib:
        os.environ["REPSENSE_EXERCISES"] = lib
        try:
            return _auto_rows(poses)
        finally:
            if before is None:
                os.environ.pop("REPSENSE_EXERCISES", None)
            else:
                os.environ["REPSENSE_EXERCISES"] = before


def _auto_rows(poses: pathlib.Path) -> list[dict]:
    from repsense.session import analyze_recording
    from repsense.sources import select_span
    from repsense.teaching import save_taught

    rows = []
    for clip in clips():
        if clip.exercise not in UNDESCRIBED:
            continue
        rec = recording(clip.stem, poses)
        span = clip.teach_span()
        taught = teach(clip, poses, name=f"my_{clip.exercise}")
        save_taught(taught, select_span(rec, *span))
        parts = {"taught span": select_span(rec, *span), "whole clip": rec}
        if span[1] < rec.timestamp_ms[-1] / 1000.0 - 2.0:
            parts["held-out rest"] = select_span(rec, span[1], None)
        for part, r in parts.items():
            a = analyze_recording(r, "auto")
            names = [e.name for e in a.report.exercises]
            rows.append({"clip": clip.stem, "part": part, "taught": taught.spec.name,
                         "recognised": names, "reps": a.report.total_reps,
                         "ok": taught.spec.name in names})
    # With all five in the library: does auto take any other dev clip for one of them?
    for clip in clips():
        if clip.exercise in UNDESCRIBED:
            continue
        a = analyze_recording(recording(clip.stem, poses), "auto")
        names = [e.name for e in a.report.exercises]
        rows.append({"clip": clip.stem, "part": f"other ({clip.exercise})", "taught": "-",
                     "recognised": names, "reps": a.report.total_reps,
                     "ok": not any(n.startswith("my_") for n in names), "true": clip.count})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--poses", type=pathlib.Path, default=POSES)
    ap.add_argument("--auto", action="store_true", help="also the recognition check")
    args = ap.parse_args()
    os.environ.setdefault("REPSENSE_EXERCISES", tempfile.mkdtemp(prefix="repsense-teach-bench-"))

    print("1. exercises with no description: teach from the first two reps, count the whole clip")
    rows = undescribed(args.poses)
    for r in rows:
        print(f"  {r['clip']:<72} {r['exercise']:<14} true {r['true']:>2}  taught {r['taught']:>2}"
              f"  generic {r['generic']:>2}  ({r['signal']}, {r['taught_reps']} reps taught)")
    ok, nmae = summary(rows, "taught")
    gok, gnmae = summary(rows, "generic")
    print(f"  within one: taught {ok:.2f} (nMAE {nmae:.3f}), generic {gok:.2f} (nMAE {gnmae:.3f})")

    print("2. squats, push-ups, curls: teach from one clip, count the other clips")
    base = baselines(args.poses)
    rows = described(args.poses)
    for r in rows:
        if "error" in r:
            print(f"  {r['exercise']:<12} taught from {r['teacher']}: refused: {r['error']}")
            continue
        r.update(base[r["clip"]])
    for ex in DESCRIBED:
        got = [r for r in rows if r["exercise"] == ex and "error" not in r]
        refused = sum(1 for r in rows if r["exercise"] == ex and "error" in r)
        t, g, b = summary(got, "taught"), summary(got, "generic"), summary(got, "builtin")
        print(f"  {ex:<12} {len(got):>3} (teacher, clip) pairs, {refused} teachers refused: "
              f"within one taught {t[0]:.2f} / generic {g[0]:.2f} / built-in {b[0]:.2f}; "
              f"nMAE {t[1]:.3f} / {g[1]:.3f} / {b[1]:.3f}")
    if args.auto:
        print("3. auto recognises the taught exercise")
        rows = auto_check(args.poses)
        own = [r for r in rows if r["taught"] != "-"]
        other = [r for r in rows if r["taught"] == "-"]
        print(f"  recognised where taught: {sum(r['ok'] for r in own)}/{len(own)}; other clips "
              f"taken for a taught exercise: {sum(not r['ok'] for r in other)}/{len(other)}")
        for r in rows:
            print(f"  {r['clip']:<72} {r['part']:<14} {'yes' if r['ok'] else 'NO ':<4}"
                  f" recognised {', '.join(r['recognised']) or '-'} ({r['reps']} reps)")


if __name__ == "__main__":
    main()
