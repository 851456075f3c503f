"""Several people in one camera: ids kept across frames, one session per person, per-person
reports; and on real several-people videos built from the labelled dev clips (bench/people_videos.py),
each person counted within one of their clip's label with no reps moving between people."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from repsense.pose import Landmark, PoseRecording
from repsense.pose.people import PeopleRecording, PeopleTracker, track_people
from repsense.session import PeopleSession, analyze_people

SAMPLE = pathlib.Path(__file__).resolve().parents[1] / "repsense" / "samples" / "squats.npz"
HIPS = [Landmark.LEFT_HIP, Landmark.RIGHT_HIP]


def placed(pose: np.ndarray, centre_x: float, scale: float = 0.3) -> np.ndarray:
    """A pose moved so that its hips are at ``centre_x`` and shrunk to ``scale`` of the width."""
    p = pose.copy()
    p[:, 0] = (p[:, 0] - np.nanmean(p[HIPS, 0])) * scale + centre_x
    return p


def two_people(n_frames: int | None = None, gap: tuple[int, int] | None = None,
               cross: bool = False):  # type: ignore[no-untyped-def]
    """Frames of two squatting people built from the shipped sample: A on the left, B (the same
    squats, out of step) on the right; ``gap``: frames where A is gone; ``cross``: A and B walk
    past each other and B is hidden while they overlap. Returns (frames, truth, times)."""
    rec = PoseRecording.load(SAMPLE)
    n = n_frames or len(rec)
    frames, truth = [], []
    for t in range(n):
        u = t / max(n - 1, 1)
        xa, xb = (0.15 + 0.7 * u, 0.85 - 0.7 * u) if cross else (0.25, 0.75)
        a = placed(rec.landmarks[(2 * t) % len(rec)], xa)          # 30 fps sample at 15 fps
        b = placed(rec.landmarks[(2 * t + len(rec) // 3) % len(rec)], xb)
        found, who = [b, a], [1, 0]          # the model's order says nothing about who is who
        if gap is not None and gap[0] <= t < gap[1]:
            found, who = [b], [1]
        if cross and abs(xa - xb) < 0.12:
            found, who = [a], [0]
        frames.append(found)
        truth.append(who)
    return frames, truth, [int(x) for x in rec.timestamp_ms[0] + 66 * np.arange(n)]


def run(frames, truth, times, **kw):  # type: ignore[no-untyped-def]
    tracker = PeopleTracker(2, frame_rate=15.0, **kw)
    ids: dict[int, list[int]] = {0: [], 1: []}
    for found, who, t in zip(frames, truth, times):
        out = {id(p): pid for pid, p in tracker.update(found, t).items()}
        for p, w in zip(found, who):
            ids[w].append(out[id(p)])
    return ids


def test_two_people_keep_their_ids():
    ids = run(*two_people(150))
    assert set(ids[0]) == {ids[0][0]} and set(ids[1]) == {ids[1][0]}
    assert ids[0][0] != ids[1][0]


def test_ids_survive_crossing_with_occlusion():
    ids = run(*two_people(150, cross=True))
    assert len(set(ids[0])) == 1 and len(set(ids[1])) == 1 and ids[0][0] != ids[1][0]


def test_a_person_back_within_the_reid_window_keeps_their_id():
    ids = run(*two_people(200, gap=(40, 40 + 60)))      # 4 s away at 15 fps
    assert set(ids[0]) == {1} or set(ids[0]) == {2}
    assert len(set(ids[0])) == 1 and set(ids[0]).isdisjoint(ids[1])


def test_a_person_back_after_the_reid_window_is_someone_new():
    ids = run(*two_people(260, gap=(40, 40 + 200)), reid_s=5.0)   # 13 s away
    assert len(set(ids[0])) == 2


def test_at_most_max_people_ids_are_live():
    frames, _, times = two_people(30)
    tracker = PeopleTracker(1, frame_rate=15.0)
    assert all(len(tracker.update(f, t)) <= 1 for f, t in zip(frames, times))


def test_people_session_runs_one_session_per_person_and_a_late_comer_starts_their_own():
    frames, truth, times = two_people(250, gap=(0, 45))        # A only arrives at 3 s
    people = PeopleSession(2, "squat", frame_rate=15.0)
    for f, t in zip(frames, times):
        people.feed(f, t)
    people.finish()
    assert sorted(people.sessions) == [1, 2]
    late = max(people.first_ms, key=people.first_ms.get)  # type: ignore[arg-type]
    assert people.first_ms[late] - times[0] == pytest.approx(45 * 66, abs=70)
    counts = {pid: s.tracker.total_reps for pid, s in people.sessions.items()}
    assert all(c >= 3 for c in counts.values()), counts
    # the late comer's session starts when they do: its reps come after
    assert people.sessions[late].first_ms == people.first_ms[late]
    assert min(r.timestamp_ms for r in people.sessions[late].reps) > people.first_ms[late]


def test_people_recording_round_trip_and_track_people(tmp_path):
    frames, _, times = two_people(60)
    rec = PeopleRecording.from_frames(frames, times, (1280, 720), "two people")
    rec.save(tmp_path / "p.npz")
    back = PeopleRecording.load(tmp_path / "p.npz")
    assert back.poses.shape == (60, 2, 33, 4) and back.image_size == (1280, 720)
    people = track_people(back)
    assert [p.id for p in people] == [1, 2]
    xs = sorted(float(np.nanmean(p.recording.landmarks[:, HIPS, 0])) for p in people)
    assert xs == pytest.approx([0.25, 0.75], abs=0.02)


def test_json_keeps_todays_shape_for_one_person_and_lists_people_otherwise():
    from repsense.sinks.report import PersonReport, format_text, to_json_doc

    frames, _, times = two_people(250)
    rec = PeopleRecording.from_frames(frames, times, (1280, 720), "two.mp4")
    people = analyze_people(rec, 2, "squat")
    one = people[0].analysis.report
    assert "people" not in to_json_doc([one])["inputs"][0]
    from repsense.sinks.report import InputReport

    both = InputReport("two.mp4", 15.0, len(rec), len(rec), [], people=[
        PersonReport(p.person, p.first_s, p.last_s, p.analysis.report) for p in people])
    doc = json.loads(json.dumps(to_json_doc([both])))["inputs"][0]
    assert [p["person"] for p in doc["people"]] == [1, 2]
    assert {"person", "first_s", "last_s", "exercises", "total_reps"} <= set(doc["people"][0])
    assert doc["total_reps"] == sum(p["total_reps"] for p in doc["people"])
    text = format_text(both)
    assert "person 1" in text and "person 2" in text


# --- real videos: the pose model over several-people videos built from the labelled clips ---

def _real(name: str, tmp_path_factory):  # type: ignore[no-untyped-def]
    import os
    import shutil

    from conftest import need, require_data

    require_data("videos", "clips", "labels.csv")
    need(shutil.which("ffmpeg") is not None, "ffmpeg")
    if "REPSENSE_PEOPLE_CACHE" not in os.environ:
        os.environ["REPSENSE_PEOPLE_CACHE"] = str(tmp_path_factory.getbasetemp() / "people")
    from bench import people_videos as pv

    spec = pv.SPECS[name]
    return spec, pv.raw_poses(spec), pv.bounds(spec), [pv.truth_count(p, spec.duration_s)
                                                       for p in spec.parts]


def _people_by_strip(rec, spec, cuts):  # type: ignore[no-untyped-def]
    from bench.people_videos import strip_of

    people = analyze_people(rec, spec.people, "auto")
    by_strip: dict[int, list] = {}
    for p in people:
        hips = p.analysis.recording.landmarks[:, HIPS, 0]
        hips = hips[np.isfinite(hips).all(axis=1)].mean(axis=1)
        strips = {strip_of(float(x), cuts) for x in hips}
        assert len(strips) == 1, f"person {p.person} was in strips {strips}: ids swapped"
        by_strip.setdefault(strips.pop(), []).append(p)
    return by_strip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two", "delayed", "gap"])
def test_each_person_of_a_real_video_counted_within_one(name, tmp_path_factory):
    spec, rec, cuts, truth = _real(name, tmp_path_factory)
    by_strip = _people_by_strip(rec, spec, cuts)
    assert sorted(by_strip) == list(range(len(spec.parts)))
    for strip, people in by_strip.items():
        assert len(people) == 1, f"strip {strip}: {len(people)} ids"   # also: back after the gap
        reps = people[0].analysis.report.total_reps
        assert abs(reps - truth[strip]) <= 1, (name, strip, reps, truth[strip])


@pytest.mark.slow
def test_gap_person_keeps_id_across_the_blackout(tmp_path_factory):
    spec, rec, cuts, _ = _real("gap", tmp_path_factory)
    k, a, b = spec.blackout  # type: ignore[misc]
    (person,) = _people_by_strip(rec, spec, cuts)[k]
    assert person.first_s < a and person.last_s > b


@pytest.mark.slow
def test_three_people_in_a_row(tmp_path_factory):
    spec, rec, cuts, truth = _real("three", tmp_path_factory)
    by_strip = _people_by_strip(rec, spec, cuts)
    assert sorted(by_strip) == [0, 1, 2]
    for strip, people in by_strip.items():
        assert abs(people[0].analysis.report.total_reps - truth[strip]) <= 1


@pytest.mark.slow
def test_annotated_video_draws_each_person_in_their_colour(tmp_path_factory, tmp_path):
    import cv2

    from bench.people_videos import build
    from repsense.sinks.annotate import person_colour, write_annotated_people

    spec, rec, cuts, _ = _real("two", tmp_path_factory)
    people = analyze_people(rec, 2)
    out = tmp_path / "two.mp4"
    n = write_annotated_people(build(spec), people, out, max_fps=15.0)
    assert n == len(rec)
    from repsense.logs import quiet_ffmpeg

    quiet_ffmpeg()      # OpenCV fixes FFmpeg's log level at its first open in the process
    cap = cv2.VideoCapture(str(out))
    cap.set(cv2.CAP_PROP_POS_FRAMES, n // 2)
    ok, frame = cap.read()
    cap.release()
    assert ok
    w = frame.shape[1]
    strip = _people_by_strip(rec, spec, cuts)
    for p in people:
        colour = np.array(person_colour(p.person), int)
        near = np.abs(frame.astype(int) - colour).sum(axis=2) < 60
        xs = np.nonzero(near.any(axis=0))[0] / w
        # the person's colour is drawn, and inside their own strip
        (k,) = [k for k, ps in strip.items() if ps[0].person == p.person]
        lo, hi = ([0.0] + cuts)[k], (cuts + [1.0])[k]
        inside = ((xs >= lo) & (xs <= hi)).mean()
        assert near.sum() > 200 and inside > 0.9, (p.person, near.sum(), inside)


# --- the page's protocol: several people in one live session, each stored under their name ---

def _people_messages(n_frames: int = 250):  # type: ignore[no-untyped-def]
    frames, _, times = two_people(n_frames)
    return [{"type": "pose", "t": float(t), "seq": i,
             "people": [np.nan_to_num(p, nan=0.0).tolist() for p in f]}
            for i, (f, t) in enumerate(zip(frames, times))]


def test_live_session_with_two_people_counts_each_and_stores_each_under_their_name(tmp_path):
    from repsense.app.history import History
    from repsense.app.live import SessionManager
    from repsense.store import Store

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    history = History(store, None)
    manager = SessionManager([history.live_sink])
    live, started = manager.start({"type": "start", "exercise": "squat", "people": 2,
                                   "width": 1280, "height": 720})
    assert started["max_people"] == 2 and started["people"] == []
    last = None
    for i, msg in enumerate(_people_messages()):
        (last,) = live.handle(msg)
        if i == 20:
            (named,) = live.handle({"type": "name", "person": 1, "profile": "Ana"})
            assert named == {"type": "named", "person": 1, "profile": "Ana"}
    assert [p["person"] for p in last["people"]] == [1, 2]
    assert all(p["state"]["total_reps"] >= 3 for p in last["people"])
    (ended,) = live.handle({"type": "end"})
    assert [p["profile"] for p in ended["people"]] == ["Ana", None]
    assert all(p["summary"]["total_reps"] >= 3 for p in ended["people"])
    stored = {s["profile"]: s for s in store.list_sessions()}
    assert set(stored) == {"Ana", "default"}      # the unnamed person: the page's profile
    assert stored["Ana"]["total_reps"] == ended["people"][0]["summary"]["total_reps"]
    store.close()


def test_live_people_protocol_errors():
    from repsense.app.live import ProtocolError, SessionManager

    manager = SessionManager()
    with pytest.raises(ProtocolError):
        manager.start({"type": "start", "people": 7})
    with pytest.raises(ProtocolError):
        manager.start({"type": "start", "people": 2, "mode": "frames"})
    live, _ = manager.start({"type": "start", "people": 2})
    with pytest.raises(ProtocolError):
        live.handle({"type": "pose", "t": 0, "people": "nobody"})
    with pytest.raises(ProtocolError):
        live.handle({"type": "name", "person": 9, "profile": "Ana"})
    (frame,) = live.handle({"type": "pose", "t": 0, "people": []})
    assert frame["people"] == []
    with pytest.raises(ProtocolError):
        live.handle({"type": "pose", "t": 0, "people": []})     # time must move on


def test_a_camera_source_gives_every_pose_of_a_saved_several_people_recording(tmp_path):
    from repsense.sources.camera import open_camera

    frames, _, times = two_people(40)
    PeopleRecording.from_frames(frames, times, (1280, 720)).save(tmp_path / "class.npz")
    source = open_camera(str(tmp_path / "class.npz"))
    assert source.kind == "recording" and source.image_size == (1280, 720)
    got = list(source.people(2, speed=0))
    assert [len(f) for f, _ in got] == [2] * 40 and [t for _, t in got] == times
    people = PeopleSession(2, "squat", frame_rate=15.0)
    for poses, t in got:
        people.feed(poses, t)
    assert sorted(people.sessions) == [1, 2]


def test_cli_people_1_is_todays_report_and_people_2_lists_each(tmp_path):
    from repsense.cli import main

    assert main(["analyze", str(SAMPLE), "--json", str(tmp_path / "a.json")]) == 0
    assert main(["analyze", str(SAMPLE), "--people", "1", "--json", str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    frames, _, times = two_people(250)
    PeopleRecording.from_frames(frames, times, (1280, 720)).save(tmp_path / "two.npz")
    assert main(["analyze", str(tmp_path / "two.npz"), "--people", "2", "--exercise", "squat",
                 "--json", str(tmp_path / "c.json")]) == 0
    doc = json.loads((tmp_path / "c.json").read_text())["inputs"][0]
    assert [p["person"] for p in doc["people"]] == [1, 2]
    assert all(p["total_reps"] >= 3 and p["exercises"][0]["name"] == "squat"
               for p in doc["people"])
    assert main(["analyze", str(tmp_path / "two.npz"), "--people", "2", "--plot", "x.png"]) == 2


@pytest.mark.slow
def test_cli_analyze_people_on_a_real_two_person_video(tmp_path_factory, tmp_path):
    from bench.people_videos import build
    from repsense.cli import main

    spec, _, _, truth = _real("two", tmp_path_factory)
    out = tmp_path / "two.json"
    assert main(["analyze", str(build(spec)), "--people", "2", "--json", str(out),
                 "--annotate", str(tmp_path / "two.mp4")]) == 0
    doc = json.loads(out.read_text())["inputs"][0]
    got = sorted(p["total_reps"] for p in doc["people"])
    assert len(got) == 2 and all(abs(g - t) <= 1 for g, t in zip(got, sorted(truth))), got
    assert (tmp_path / "two.mp4").stat().st_size > 10_000


def test_node_with_two_people_publishes_each_persons_events_with_their_id(tmp_path):
    import subprocess
    import sys

    pytest.importorskip("paho.mqtt.client")
    from mqtt_brokers import ROOT, BrokerProcess, Collector, node_cmd

    frames, _, times = two_people(250)
    rec = tmp_path / "class.npz"
    PeopleRecording.from_frames(frames, times, (1280, 720)).save(rec)
    broker = BrokerProcess("embedded", tmp_path).start()
    try:
        events = Collector(broker.port)
        node = subprocess.run(node_cmd(rec, broker.url, "class-1", tmp_path / "outbox.sqlite",
                                       "--people", "2", "--exercise", "squat", "--speed", "0"),
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert node.returncode == 0, node.stderr
        events.wait_for(lambda ev: sum(e["type"] == "SessionEnded" for e in ev) == 2, 30)
        got = events.events()
        events.close()
    finally:
        broker.stop()
    by_person: dict[int, list] = {}
    for e in got:
        by_person.setdefault(e["person"], []).append(e)
    assert sorted(by_person) == [1, 2]
    for pid, evs in by_person.items():
        assert len({e["session"] for e in evs}) == 1          # one session per person
        reps = [e for e in evs if e["type"] == "RepCompleted"]
        assert len(reps) >= 3 and [r["count"] for r in reps] == list(range(1, len(reps) + 1))
    assert "person 1:" in node.stderr and "person 2:" in node.stderr


def test_sessions_of_people_who_appear_together_are_all_stored(tmp_path):
    """Two people seen in the same frame start two stores at once, both for a profile the
    database does not have yet: neither may fail."""
    import threading

    from repsense.engine.events import SessionEnded
    from repsense.store import Store, StoreSink

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    for round_ in range(8):
        go = threading.Barrier(3)
        sinks: list = []

        def start(k: int) -> None:
            go.wait()
            sinks.append(StoreSink(store, profile=f"class{round_}", keep_empty=True))

        threads = [threading.Thread(target=start, args=(k,)) for k in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for sink in sinks:
            sink.emit([SessionEnded(1000, total_reps=0)])
            sink.close()
            assert sink.error is None, sink.error
    assert len(store.list_sessions()) == 24
    store.close()
