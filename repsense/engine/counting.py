"""Rep counting on one scalar signal, and timing of static holds. Pure state machines, no I/O.

A rep is an excursion: the signal leaves its rest value, turns, and comes back. The counter
counts an excursion when it was at least ``min_rom`` deep and lasted between ``min_rep_s`` and
``max_rep_s``. Because the depth is measured from the rest value the person really reached (not
a fixed threshold), a signal hovering near any value never counts twice, and a rep done in a
camera view that shrinks the angle still counts if it is deep enough.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections import deque
from dataclasses import dataclass

from repsense.engine.specs import CountSpec

# The rest value is the highest value over this recent window, so an old high point
# (a stretch before the set) does not make every later rep look shallow.
REST_MEMORY_MS = 2500
# A rep starts the last time the signal was this close to rest (share of min_rom).
LEAVE_FRACTION = 0.1
# Rhythm: the intervals it is read from (at least one fewer must be known), how regular they must
# be, and how close a longer interval must come to a whole number of them. Set on RepCount-A's
# dev half (the number of reps one interval may hide, CountSpec.fill_missed, is cross-validated;
# docs/benchmarks.md).
RHYTHM_REPS = 4
RHYTHM_CV = 0.25
RHYTHM_TOL = 0.3


class Phase(enum.Enum):
    REST = "rest"          # at (or near) the start position
    AWAY = "away"          # moving away from it, or turning
    RETURN = "return"      # on the way back


@dataclass(frozen=True)
class Rep:
    start_ms: int
    bottom_ms: int
    end_ms: int
    rest_value: float      # the signal at the start position (in the description's units)
    turn_value: float      # the signal at the turning point

    @property
    def rom(self) -> float:
        return abs(self.rest_value - self.turn_value)


class RepCounter:
    """Counts excursions of a signal per a CountSpec. ``update`` returns the Rep when one completes.

    NaN samples (joint not visible, posture not held) leave the state as it is; a gap longer than
    ``max_rep_s`` drops a rep in progress.
    """

    def __init__(self, spec: CountSpec) -> None:
        self.spec = spec
        self._sign = 1.0 if spec.rest == "high" else -1.0
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.REST
        self._recent: deque[tuple[int, float]] = deque()
        self._peak = -math.inf
        self._peak_ms = 0
        self._valley = math.inf
        self._valley_ms = 0
        self._start_ms = 0
        self._near_rest_ms = 0
        self._last_ms: int | None = None
        self._last_end_ms = -1
        self.count = 0

    @property
    def rest_value(self) -> float:
        return self._sign * self._peak

    def update(self, value: float, timestamp_ms: int) -> Rep | None:
        s = self.spec
        if math.isnan(value):
            if self._last_ms is not None and timestamp_ms - self._last_ms > s.max_rep_s * 1000:
                self._to_rest_fresh()
            return None
        v = self._sign * value
        if self._last_ms is not None and timestamp_ms - self._last_ms > s.max_rep_s * 1000:
            self._to_rest_fresh()
        self._last_ms = timestamp_ms

        if self.phase is Phase.REST:
            self._remember(v, timestamp_ms)
            if self._peak - v <= LEAVE_FRACTION * s.min_rom:
                self._near_rest_ms = timestamp_ms
            if self._peak - v >= s.start_fraction * s.min_rom:
                self.phase = Phase.AWAY
                self._start_ms = self._near_rest_ms
                self._valley, self._valley_ms = v, timestamp_ms
            return None

        if timestamp_ms - self._start_ms > s.max_rep_s * 1000:
            # Too slow to be a rep (sat down, rested at the bottom): start over from here.
            self._to_rest_fresh()
            self._remember(v, timestamp_ms)
            return None
        if v < self._valley:
            self._valley, self._valley_ms = v, timestamp_ms
            self.phase = Phase.AWAY
            return None
        depth = self._peak - self._valley
        if v - self._valley >= s.return_fraction * depth:
            rep = self._finish(timestamp_ms)
            self.phase = Phase.REST
            self._recent.clear()
            self._peak = -math.inf
            self._remember(v, timestamp_ms)
            return rep
        if v > self._valley + 0.5 * s.start_fraction * s.min_rom:
            self.phase = Phase.RETURN
        return None

    def _finish(self, end_ms: int) -> Rep | None:
        s = self.spec
        depth = self._peak - self._valley
        duration_s = (end_ms - self._start_ms) / 1000.0
        rest_value, turn_value = self._sign * self._peak, self._sign * self._valley
        away_s = (self._valley_ms - self._start_ms) / 1000.0
        back_s = (end_ms - self._valley_ms) / 1000.0
        ok = depth >= s.min_rom and s.min_rep_s <= duration_s <= s.max_rep_s and \
            min(away_s, back_s) >= s.min_phase_s
        if s.rest_bound is not None:
            ok &= self._sign * (rest_value - s.rest_bound) >= 0
        if s.turn_bound is not None:
            ok &= self._sign * (s.turn_bound - turn_value) >= 0
        # A rep starts from rest: one whose start lies before the previous rep's end never got
        # back near rest in between (the last time it was is older), so it is the previous rep's
        # return wobbling on, not a new rep.
        ok &= self._start_ms >= self._last_end_ms
        if not ok:
            return None
        self.count += 1
        self._last_end_ms = end_ms
        return Rep(self._start_ms, self._valley_ms, end_ms, rest_value, turn_value)

    def _remember(self, v: float, t: int) -> None:
        self._recent.append((t, v))
        while self._recent and t - self._recent[0][0] > REST_MEMORY_MS:
            self._recent.popleft()
        if v >= self._peak:
            self._peak, self._peak_ms = v, t
        elif t - self._peak_ms > REST_MEMORY_MS:
            self._peak_ms, self._peak = max(self._recent, key=lambda tv: (tv[1], tv[0]))

    def _to_rest_fresh(self) -> None:
        self.phase = Phase.REST
        self._recent.clear()
        self._peak = -math.inf
        self._last_ms = None


class Rhythm:
    """Reps a counter missed inside a regular run (``CountSpec.fill_missed``).

    Fast long sets (a pommel-horse circle every 0.8 s, 45 push-ups in a minute) lose a rep now
    and then to a shallow swing or a pose gap. When the last ``RHYTHM_REPS`` intervals between
    rep ends were regular (coefficient of variation at most ``RHYTHM_CV``) and the next interval
    is close to ``k`` of them (``k`` from 2 to ``max_missed + 1``, within ``RHYTHM_TOL * k``),
    the ``k - 1`` reps in between were done and missed. A filled interval keeps the rhythm."""

    def __init__(self, max_missed: int) -> None:
        self.max_missed = max_missed
        self._intervals: deque[float] = deque(maxlen=RHYTHM_REPS)
        self._last_end: int | None = None

    def observe(self, end_ms: int, moved: bool = True) -> int:
        """A rep ended at ``end_ms``: how many reps were missed before it (none unless the body
        ``moved`` in between: a pause is not missed reps)."""
        last, self._last_end = self._last_end, end_ms
        if last is None:
            return 0
        gap = float(end_ms - last)
        missed = 0
        if len(self._intervals) >= RHYTHM_REPS - 1:
            period = statistics.median(self._intervals)
            spread = statistics.pstdev(self._intervals)
            k = round(gap / period)
            if moved and spread <= RHYTHM_CV * period and 2 <= k <= self.max_missed + 1 and \
                    abs(gap / period - k) <= RHYTHM_TOL * k:
                missed, gap = k - 1, period
        self._intervals.append(gap)
        return missed


class HoldTimer:
    """Time spent in a static position: starts after ``enter_s`` in position, survives breaks
    shorter than ``grace_s``; ``held_s`` is the total time in position."""

    def __init__(self, enter_s: float = 1.0, grace_s: float = 1.0) -> None:
        self.enter_s = enter_s
        self.grace_s = grace_s
        self.held_s = 0.0
        self.holding = False
        self._since_ms: int | None = None   # in position since (candidate)
        self._out_ms: int | None = None     # out of position since
        self._last_ms: int | None = None

    def update(self, in_position: bool, timestamp_ms: int) -> bool | None:
        """Feed one frame; return True when a hold starts, False when it ends, else None."""
        last, self._last_ms = self._last_ms, timestamp_ms
        if in_position:
            self._out_ms = None
            if self.holding:
                self.held_s += (timestamp_ms - last) / 1000.0 if last is not None else 0.0
                return None
            if self._since_ms is None:
                self._since_ms = timestamp_ms
            if (timestamp_ms - self._since_ms) / 1000.0 >= self.enter_s:
                self.holding = True
                self.held_s += (timestamp_ms - self._since_ms) / 1000.0
                return True
            return None
        self._since_ms = None
        if not self.holding:
            return None
        if self._out_ms is None:
            self._out_ms = timestamp_ms
        if (timestamp_ms - self._out_ms) / 1000.0 > self.grace_s:
            self.holding = False
            if last is not None:
                self.held_s -= (last - self._out_ms) / 1000.0  # the break was not a short one
            return False
        if last is not None:
            self.held_s += (timestamp_ms - last) / 1000.0  # a short break counts as held
        return None
