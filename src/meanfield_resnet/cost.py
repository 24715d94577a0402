"""Cost estimates of a job before it starts: logged, and refused above ``limits.job_seconds``
(a config key) with the keys that drive the cost."""

from __future__ import annotations

from .settings import Config, Experiment

# Seconds per unit of work, measured on the 2-core machine the project is developed on (an
# order of magnitude: the estimate is logged before a job starts, and refused above the
# limit ``limits.job_seconds``).
SECONDS_PER = {
    "vlasov cell-stage": 6e-9,
    "vlasov stage of a moving frame": 2e-6,
    "fokker-planck cell-step": 1e-7,
    "particle-layer": 3e-9,
    "stochastic particle-layer": 2e-8,
}
JOB_SECONDS = 7200.0


def network_seconds(exp: Experiment, particles: int) -> float:
    """Estimated one-core seconds of the network's kernel for ``particles`` particles of
    ``exp`` (its layers; stochastic when it has a diffusion)."""
    kind = "particle-layer" if exp.diffusion is None else "stochastic particle-layer"
    return particles * exp.dimension * exp.particles["layers"] * SECONDS_PER[kind]


class CostError(RuntimeError):
    """A job whose estimated cost exceeds ``limits.job_seconds``."""


def check_cost(config: Config, exp: Experiment, what: str, seconds: float, detail: str,
               keys: str, log=None) -> None:  # fmt: skip
    """Log the estimate; refuse it above ``limits.job_seconds`` (naming the keys that drive
    it and how to raise the limit)."""
    limit = float(config.raw.get("limits", {}).get("job_seconds", JOB_SECONDS))
    text = f"experiment {exp.name}: {what} estimated at {seconds:.3g} s ({detail})"
    if log is not None:
        log(f"cost estimate: {text}")
    if seconds > limit:
        raise CostError(
            f"{text}, above limits.job_seconds = {limit:g}: reduce {keys}, or raise "
            "limits.job_seconds in the config to run it anyway"
        )
