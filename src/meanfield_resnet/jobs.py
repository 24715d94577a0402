"""What every workflow job does first: log to its log file, set its thread count, make a
SIGTERM unwind the job (so its temporary files go), remove what a killed earlier attempt
left of its outputs, and read the validated configuration."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from ._jit import set_threads
from .io import InputFileError, read, remove_stale_parts
from .settings import Config, validate_config


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (Snakemake cancelling a job, ``scancel``, a cluster's time limit) into
    ``SystemExit(143)``: ``finally`` blocks and :func:`meanfield_resnet.io.atomic` run, so
    no temporary ``.part`` file outlives the job. Call from the main thread."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _log_failure(logger: logging.Logger, kind, value, tb) -> None:
    if isinstance(value, InputFileError):  # the message says it all: no traceback
        logger.critical("job failed: %s", value)
    else:
        logger.critical("job failed", exc_info=(kind, value, tb))


def start(smk) -> tuple[logging.Logger, Config]:
    """Set up a Snakemake job: logging (file + stderr), numba threads, SIGTERM handling,
    stale temporary files of its outputs removed, configuration."""
    logger = logging.getLogger("meanfield_resnet")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.FileHandler(smk.log[0], mode="w"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    set_threads(smk.threads)
    sys.excepthook = lambda *exc: _log_failure(logger, *exc)
    exit_on_sigterm()
    for part in remove_stale_parts(smk.output):
        logger.warning("removed %s, left by an earlier attempt that was killed", part)
    return logger, validate_config(smk.config)


def load_data(paths) -> dict:
    """The generated data sets by name (vehicles, regression), each checked as it is read
    (see :func:`meanfield_resnet.io.read`)."""
    return {Path(p).stem: read(p) for p in paths}
