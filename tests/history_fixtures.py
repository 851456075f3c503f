"""Fixtures of the history-store tests: a real PostgreSQL server in a temporary directory, database
URLs for both dialects, and pose recordings of real clips.

PostgreSQL refuses to run as root, so as root the server runs as ``nobody`` (through ``runuser``)
in a directory it owns, listening only on a Unix socket in that directory.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import pytest

from tests.conftest import DATA, require_data


def _pg_bin() -> pathlib.Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return pathlib.Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return pathlib.Path(initdb).parent if initdb else None


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_server():  # type: ignore[no-untyped-def]
    """A PostgreSQL server for this test run; yields a function that makes a fresh database and
    returns its URL."""
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL (setup.sh installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed")
    root = pathlib.Path(tempfile.mkdtemp(prefix="repsense-pg-"))
    os.chmod(root, 0o755)
    data, sock = root / "data", root / "sock"
    data.mkdir()
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "nobody")
        shutil.chown(sock, "nobody")
        shutil.chown(root, "nobody")
    port = "5433"
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                              "-A", "trust", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True)
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                              str(root / "log"), "-o",
                              f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off",
                              "start"]), check=True, capture_output=True)

    def new_database() -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(host=str(sock), port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@/{name}?host={sock}&port={port}"

    try:
        yield new_database
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """A fresh empty database of each dialect."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_server")()


def clip_recording(out_dir: pathlib.Path, clip: str, exercise: str) -> pathlib.Path:
    """The pose recording of a real dev clip (the shipped pose model, run once)."""
    from repsense.cli import main

    require_data("videos", "clips", clip)
    out = out_dir / f"{pathlib.Path(clip).stem}.npz"
    if not out.exists():
        assert main(["analyze", str(DATA / "videos" / "clips" / clip), "--exercise", exercise,
                     "--save-pose", str(out), "--json", str(out_dir / "ignored.json")]) == 0
    return out


@pytest.fixture(scope="session")
def squat_clips(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Pose recordings of two real squat clips (3 reps each)."""
    out = tmp_path_factory.mktemp("history_clips")
    return [clip_recording(out, "test_video_squat.mp4", "squat"),
            clip_recording(out, "aiTrainer_squats.mp4", "squat")]
