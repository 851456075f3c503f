"""``repsense teach`` on the command line: learn, save, plot, export / import / remove, and the
one-line refusals."""

from __future__ import annotations

import pytest

from repsense.cli import main


@pytest.fixture
def library(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    folder = tmp_path / "exercises"
    monkeypatch.setenv("REPSENSE_EXERCISES", str(folder))
    return folder


def test_teach_saves_plots_and_is_used_everywhere(library, tmp_path, capsys, measured_squats):
    sample = measured_squats
    assert main(["teach", str(sample), "--name", "my_squat"]) == 0
    out = capsys.readouterr().out
    assert 'name = "my_squat"' in out and "5 reps on the knee angle" in out
    assert (library / "my_squat.toml").is_file() and (library / "my_squat.npz").is_file()
    assert (library / "my_squat.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["exercises"]) == 0
    assert "my_squat  (taught" in capsys.readouterr().out
    assert main(["analyze", str(sample), "--exercise", "my_squat"]) == 0
    assert "total: 5 reps" in capsys.readouterr().out
    # the same name again needs --overwrite
    assert main(["teach", str(sample), "--name", "my_squat"]) == 1
    assert "already in your library" in capsys.readouterr().err
    assert main(["teach", str(sample), "--name", "my_squat", "--overwrite"]) == 0
    capsys.readouterr()
    out_file = tmp_path / "shared.toml"
    assert main(["teach", "--export", "my_squat", str(out_file)]) == 0
    assert main(["teach", "--import", str(out_file), "--as", "coach_squat"]) == 0
    assert (library / "coach_squat.toml").is_file() and (library / "coach_squat.npz").is_file()
    assert main(["teach", "--remove", "my_squat"]) == 0
    assert not (library / "my_squat.toml").exists()


def test_dry_run_saves_nothing(library, tmp_path, capsys, measured_squats):
    sample = measured_squats
    plot = tmp_path / "look.png"
    assert main(["teach", str(sample), "--name", "look", "--start", "0", "--end", "9",
                 "--dry-run", "--plot", str(plot)]) == 0
    assert "2 reps" in capsys.readouterr().out
    assert plot.is_file() and not library.exists()


@pytest.mark.parametrize("argv, message", [
    (["--start", "0", "--end", "4.2"], "only one clear rep"),
    (["--name", "squat"], "shipped exercise"),
])
def test_refusals_are_one_line(library, capsys, argv, message, measured_squats):
    sample = measured_squats
    argv = ["teach", str(sample), *argv] if "--name" in argv else \
        ["teach", str(sample), "--name", "one", *argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_an_unreadable_file_is_refused(library, tmp_path, capsys):
    bad = tmp_path / "set.npz"
    bad.write_bytes(b"junk")
    assert main(["teach", str(bad), "--name", "x"]) == 1
    err = capsys.readouterr().err.strip()
    assert "set.npz" in err and "\n" not in err
