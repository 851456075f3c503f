"""Live latency of `repsense serve`: a landmark message in -> its answer (state and events) out.

Starts `repsense serve` on 127.0.0.1 (a free port), then for each level N opens N WebSocket
sessions that each stream the bundled sample recording at its own pace (30 poses/s, looped) for
--seconds, and prints the round-trip time per message (median, p99), messages per second and the
server's CPU use and the median time the server spent on a message (parsing, the engine, the
answer: the rest of the round trip is the two WebSocket stacks and the clients). Everything stays on loopback and stops by itself.

    .venv/bin/python bench/live_latency.py                 # levels 1, 10, 50; 20 s each
    .venv/bin/python bench/live_latency.py --levels 10 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repsense.pose import PoseRecording  # noqa: E402

SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _messages(rec: PoseRecording) -> list[tuple[float, str]]:
    """(t, the message's JSON text after its time): serialised once, so the clients spend
    their time sending, not encoding (one client process drives every session)."""
    out = []
    for pose, t in zip(rec.landmarks, rec.timestamp_ms):
        seen = not np.isnan(pose[:, 0]).all()
        landmarks = np.round(pose, 5).tolist() if seen else None
        out.append((float(t), ', "landmarks": ' + json.dumps(landmarks) + "}"))
    return out


async def _client(url: str, frames: list, seconds: float, rtts: list[float],
                  server: list[float], reps: list[int]) -> None:
    from websockets.asyncio.client import connect

    period = (frames[-1][0] - frames[0][0]) + 33.0
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "start", "exercise": "squat", "width": 640,
                                  "height": 480}))
        json.loads(await ws.recv())
        start = time.perf_counter()
        loop = 0
        count = 0
        while True:
            for t, landmarks in frames:
                due = start + (loop * period + t - frames[0][0]) / 1000.0
                now = time.perf_counter()
                if now - start > seconds:
                    reps.append(count)
                    return
                if due > now:
                    await asyncio.sleep(due - now)
                msg = '{"type": "pose", "t": %.1f' % (1e12 + loop * period + t) + landmarks
                sent = time.perf_counter()
                await ws.send(msg)
                answer = json.loads(await ws.recv())
                rtts.append((time.perf_counter() - sent) * 1000.0)
                server.append(answer["latency_ms"])
                count = answer["state"]["total_reps"]
            loop += 1


def _cpu_s(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _level(url: str, frames: list, n: int, seconds: float, pid: int) -> dict:
    rtts: list[float] = []
    server: list[float] = []
    reps: list[int] = []
    cpu0, t0 = _cpu_s(pid), time.perf_counter()
    await asyncio.gather(*(_client(url, frames, seconds, rtts, server, reps) for _ in range(n)))
    wall = time.perf_counter() - t0
    cpu = (_cpu_s(pid) - cpu0) / wall
    a = np.asarray(rtts)
    return {"sessions": n, "messages": len(a), "per_s": len(a) / wall,
            "median_ms": float(np.median(a)), "p99_ms": float(np.percentile(a, 99)),
            "server_cpu": cpu, "engine_ms": float(np.median(server)), "reps_min": min(reps), "reps_max": max(reps)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    frames = _messages(PoseRecording.load(SAMPLE))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--no-browser",
                             "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        url = f"ws://127.0.0.1:{port}/ws"
        print(f"repsense serve on 127.0.0.1:{port}; each session streams the sample recording "
              f"(5 squats in 17 s) at 30 poses/s, looped, for {args.seconds:.0f} s")
        print(f"{'sessions':>8} {'messages':>9} {'msg/s':>7} {'median ms':>10} {'p99 ms':>8} "
              f"{'server CPU':>10} {'engine ms':>9} {'reps/session':>13}")
        for n in args.levels:
            r = asyncio.run(_level(url, frames, n, args.seconds, proc.pid))
            print(f"{r['sessions']:8d} {r['messages']:9d} {r['per_s']:7.0f} {r['median_ms']:10.2f} "
                  f"{r['p99_ms']:8.2f} {100 * r['server_cpu']:9.0f}% "
                  f"{r['engine_ms']:9.2f} {r['reps_min']:>6d}-{r['reps_max']:<6d}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
