"""Progress of long solver runs in the job's log."""

from __future__ import annotations

import time


class Progress:
    """Logs the solver's progress every ``every`` seconds of wall time (long runs between two
    output times say where they are)."""

    def __init__(self, log, every: float = 10.0):
        self.log, self.every = log, every
        self.start = self.last = time.monotonic()

    def report(self, t, t_out, steps) -> None:
        now = time.monotonic()
        if self.log is not None and now - self.last >= self.every:
            self.last = now
            self.log(f"t = {t:.6g} on the way to {t_out:g}: {steps} steps, "
                     f"{now - self.start:.0f} s")  # fmt: skip
