"""What every workflow job does first: log to its log file, set its thread count, and read
the validated configuration."""

from __future__ import annotations

import logging
import sys

from ._jit import set_threads
from .settings import Config, validate_config


def start(smk) -> tuple[logging.Logger, Config]:
    """Set up a Snakemake job: logging (file + stderr), numba threads, configuration."""
    logger = logging.getLogger("meanfield_resnet")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.FileHandler(smk.log[0], mode="w"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    set_threads(smk.threads)
    sys.excepthook = lambda *exc: logger.critical("job failed", exc_info=exc)
    return logger, validate_config(smk.config)


def load_data(paths) -> dict:
    """The generated data sets by name (vehicles, regression)."""
    from pathlib import Path

    from .io import read

    return {Path(p).stem: read(p) for p in paths}
