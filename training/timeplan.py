"""``train --time-limit``: as many steps as fit in a wall-clock budget, annealed by the end.

A recipe counts epochs, but what a user has is time: two hours on a laptop's cores, ten minutes of a rented
GPU. Stopping a run when the time is up leaves it at the full learning rate, unannealed. Instead the run
measures its own speed and sets its length in steps. The recipe's shape is kept: ``epochs`` at the base lr and
``epochs_decay`` annealed, in that proportion, the decay linear per step to ~0 at the last planned step.

The plan follows the measured speed while the lr is flat (the total can still move without a jump in the lr). The
speed is the steps per second of the later half of the session so far: the warm-up of the first steps drops out,
while what recurs (data loading, epoch ends, checkpoints and samples) is counted. It is fixed at
the step where the decay begins, and saved with every checkpoint, so ``--resume`` finishes the same run. The
limit counts the training time of every session of the run.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

#: steps a session runs before its speed is trusted (at the base lr); the first steps pay for warm-up
MEASURE_STEPS = 20
#: share of the time left that the plan fills: the decay's epoch ends and checkpoints cost a little more than
#: the steps measured before them
MARGIN = 0.97
_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds in ``2h``, ``90m``, ``1h30m``, ``45s`` or ``600`` (plain seconds); ValueError otherwise."""
    match = _DURATION.match(text.strip().lower()) if text.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration: write e.g. 2h, 90m, 1h30m, 45s or 600 (seconds)")
    h, m, s = (float(match[k] or 0) for k in ("h", "m", "s"))
    seconds = 3600 * h + 60 * m + s
    if seconds <= 0:
        raise ValueError(f"{text!r}: a time limit must be longer than 0 s")
    return seconds


def decay_factor(index: int, start: int, length: int) -> float:
    """The reference's linear decay: 1 before 0-based ``index`` reaches ``start``, then falling over ``length``
    indices towards (never to) 0. Per epoch it is the reference's ``lambda_rule``, per step the plan's ramp."""
    return 1.0 - max(0, index + 1 - start) / float(length + 1)


def format_duration(seconds: float) -> str:
    """``1h58m``, ``4m05s``, ``40m``, ``12s``: how the summary says a duration."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s}s"


@dataclass
class TimePlan:
    """The run's length in steps, fitted to ``limit_s``; :meth:`update` after every step, :meth:`lr_factor` and
    :meth:`done` read it. ``total`` and ``decay_start`` are 0 until the plan is fixed (at the decay's start)."""

    limit_s: float
    base_share: float  # the recipe's epochs / (epochs + epochs_decay): the share of the steps at the base lr
    spent_s: float = 0.0  # training time of earlier sessions of the run
    total: int = 0  # planned steps in all, once fixed
    decay_start: int = 0  # the first step of the decay, once fixed
    estimate: int = 0  # the latest estimate of the total while the plan still moves
    _start_step: int = 0
    _start_time: float = math.nan
    _marks: deque[tuple[int, float]] = field(default_factory=deque)  # (step, time) of the session's later half

    @classmethod
    def for_recipe(cls, limit_s: float, epochs: int, epochs_decay: int, spent_s: float = 0.0,
                   total: int = 0, decay_start: int = 0) -> TimePlan:
        """The plan of a recipe; ``total``/``decay_start`` from a checkpoint when its plan was already fixed."""
        share = epochs / (epochs + epochs_decay) if epochs + epochs_decay else 1.0
        return cls(limit_s, share, spent_s, total, decay_start, total)

    @property
    def fixed(self) -> bool:
        return self.total > 0

    def start(self, step: int, now: float) -> None:
        """The session begins at ``step``; its speed is measured from here."""
        self._start_step, self._start_time = step, now
        self._marks = deque([(step, now)])

    def elapsed(self, now: float) -> float:
        """Training time of the run so far, earlier sessions included."""
        return self.spent_s + (now - self._start_time)

    def update(self, step: int, now: float) -> None:
        """After ``step`` steps at time ``now``: re-estimate the total from the session's speed, and fix it once
        the decay is due (or the time is up)."""
        if self.fixed:
            return
        self._marks.append((step, now))
        half = self._start_time + (now - self._start_time) / 2
        while len(self._marks) > 2 and self._marks[1][1] <= half:
            self._marks.popleft()
        if step - self._start_step < MEASURE_STEPS and self.elapsed(now) < self.limit_s:
            return
        since_step, since_time = self._marks[0]
        rate = (step - since_step) / max(now - since_time, 1e-9)
        left = max(0.0, self.limit_s - self.elapsed(now))
        self.estimate = step + math.floor(rate * left * MARGIN)
        if step >= math.ceil(self.estimate * self.base_share):
            self.total, self.decay_start = self.estimate, step

    def lr_factor(self, step: int) -> float:
        """The lr of 0-based ``step`` as a share of the base lr: 1 until the decay, then linear to ~0 at the last
        planned step (``TrainConfig.lr_at_step``'s ramp over the planned steps)."""
        return decay_factor(step, self.decay_start, self.total - self.decay_start) if self.fixed else 1.0

    def done(self, step: int) -> bool:
        return self.fixed and step >= self.total

    def describe(self, now: float) -> str:
        """One line for the summary."""
        spent = format_duration(self.elapsed(now))
        if not self.fixed:
            return f"{format_duration(self.limit_s)}: {spent} spent, plan not fixed yet (about {self.estimate:,} steps)"
        over = self.elapsed(now) - self.limit_s
        return (f"{format_duration(self.limit_s)}: {self.total:,} steps planned, the decay from step {self.decay_start:,}; "
                f"{spent} spent" + (f", {format_duration(over)} over: the decay ran slower than the first half" if over >= 1 else ""))
