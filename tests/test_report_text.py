"""The text report: what "good" means where it is shown, and no column a source cannot fill."""

from __future__ import annotations

import math

from repsense.sinks.report import ExerciseReport, FaultSpan, InputReport, RepDetail, format_text


def _rep(faults: tuple[str, ...] = (), good: bool = True, **kw) -> RepDetail:  # type: ignore[no-untyped-def]
    base = dict(start_s=1.0, end_s=2.5, duration_s=1.5, concentric_s=0.7, eccentric_s=0.8,
                rom_deg=70.0, form_score=100.0 - 10 * len(faults), rom_pct=80.0, good=good,
                faults=tuple(FaultSpan(c, 1.5, 1.5) for c in faults))
    base.update(kw)
    return RepDetail(**base)  # type: ignore[arg-type]


def test_tips_are_told_apart_from_faults_that_make_a_rep_not_good():
    # sit_up's short_range is an info rule (a tip); push_up's hips_sag a warning
    sit = ExerciseReport("sit_up", reps=2, start_s=1.0, end_s=5.0,
                         reps_detail=[_rep(("short_range",)), _rep()])
    push = ExerciseReport("push_up", reps=2, start_s=6.0, end_s=9.0,
                          reps_detail=[_rep(("hips_sag",), good=False), _rep()])
    text = format_text(InputReport("clip.mp4", 25.0, 250, 250, [sit, push]))
    assert "sit_up: 2 reps, 2 good" in text and "push_up: 2 reps, 1 good" in text
    tips = next(line for line in text.splitlines() if "short_range x1" in line)
    faults = next(line for line in text.splitlines() if "hips_sag x1" in line)
    assert "tip" in tips and "good" in tips            # says a tip leaves the rep good
    assert "fault" in faults and "not good" in faults


def test_sensor_report_speaks_of_samples_and_leaves_out_what_it_cannot_measure():
    reps = [_rep(rom_deg=math.nan, form_score=None, rom_pct=None) for _ in range(3)]
    report = InputReport("arm.csv", 10.0, 2998, 2998,
                         [ExerciseReport("burpee", reps=3, start_s=1.0, end_s=9.0, reps_detail=reps)])
    text = format_text(report, source="sensor")
    assert "2998 sensor samples" in text and "10 Hz" in text
    for absent in ("frames", "fps", "person", "nan", "rom_deg", "score"):
        assert absent not in text, absent
    assert "concentric_s" in text


def test_camera_report_keeps_its_columns():
    report = InputReport("clip.mp4", 15.0, 150, 120,
                         [ExerciseReport("squat", reps=1, start_s=1.0, end_s=2.5, reps_detail=[_rep()])])
    text = format_text(report)
    assert "150 frames" in text and "person seen in 80%" in text
    assert "rom_deg" in text and "score" in text and "faults" in text
