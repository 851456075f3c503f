"""`repsense analyze --store`, `history`, `export`, `import` on a database given by --db."""

from __future__ import annotations

import json

from repsense.cli import main
from tests.conftest import ROOT

SAMPLE = str(ROOT / "repsense" / "samples" / "squats.npz")


def test_analyze_store_then_history_export_and_import(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["analyze", SAMPLE, "--exercise", "squat", "--store", "--db", db,
                 "--profile", "ann"]) == 0
    out = capsys.readouterr()
    assert "sets:" in out.out and "squat: 5 reps, 5 good" in out.out
    assert "storing as session" in out.err
    assert main(["analyze", SAMPLE, "--exercise", "squat", "--json", "-"]) == 0   # not stored
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"][0]["sets"][0]["reps"] == 5

    assert main(["history", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    [s] = listed["sessions"]
    assert set(s) >= {"id", "started_at", "source", "total_reps", "exercises"}
    assert s["total_reps"] == 5 and s["exercises"] == [{"name": "squat", "reps": 5,
                                                        "good_reps": 5}]
    assert main(["history", "--db", db, "--profile", "bob", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sessions": []}

    assert main(["history", s["id"][:5], "--db", db]) == 0
    text = capsys.readouterr().out
    assert f"session {s['id']} (ended), profile ann" in text and "5 reps, 5 good" in text
    assert main(["history", "nosuch", "--db", db]) == 1

    export = tmp_path / "h.json"
    assert main(["export", "--db", db, "--out", str(export)]) == 0
    assert main(["export", "--db", db, "--format", "csv", "--since", "2000-01-01"]) == 0
    csv_out = capsys.readouterr().out
    assert csv_out.count("\n") == 6 and csv_out.startswith("session_id,profile,started_at")
    assert main(["export", "--db", db, "--format", "csv", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.count("\n") == 1

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["import", str(export), "--db", other]) == 0
    assert "1 sessions added, 0 already there" in capsys.readouterr().out
    assert main(["import", str(export), "--db", other]) == 0
    assert "0 sessions added, 1 already there" in capsys.readouterr().out
    again = tmp_path / "again.json"
    assert main(["export", "--db", other, "--out", str(again)]) == 0
    assert again.read_bytes() == export.read_bytes()
    assert main(["import", str(tmp_path / "missing.json"), "--db", other]) == 1


def test_the_default_database_is_sqlite_in_the_users_data_directory(tmp_path, monkeypatch, capsys):
    from repsense.store import Store, default_url

    monkeypatch.delenv("REPSENSE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'repsense' / 'history.db'}"
    with Store() as store:
        assert store.url == url
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sessions": []}


def test_a_bad_database_url_is_one_line_that_says_what_is_expected(capsys):
    assert main(["history", "--db", "mysql://x/y"]) == 1
    assert "use sqlite:/// or postgresql://" in capsys.readouterr().err
    assert main(["history", "--db", "not a url"]) == 1
    assert "expected sqlite:///path.db" in capsys.readouterr().err


def test_imu_analyze_store_keeps_a_sensor_session(tmp_path, capsys):
    from tests.conftest import require_data

    csv = sorted(require_data("exermote").glob("*.csv"))[0]
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["imu", "analyze", str(csv), "--json", str(tmp_path / "r.json"), "--store",
                 "--db", db, "--profile", "ann"]) == 0
    assert "stored as session" in capsys.readouterr().err
    report = json.loads((tmp_path / "r.json").read_text())["inputs"][0]
    assert main(["history", "--db", db, "--profile", "ann", "--json"]) == 0
    [s] = json.loads(capsys.readouterr().out)["sessions"]
    assert s["source"] == str(csv) and s["total_reps"] == report["total_reps"] > 0
    assert {e["name"] for e in s["exercises"]} == {e["name"] for e in report["exercises"]}
