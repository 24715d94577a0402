"""The validated configuration as typed objects: the one place that knows key names.

``load_config(path)`` (or ``validate_config(dict)``) checks the configuration against the
JSON schema (draft 2020-12) shipped with the package, fills the schema's defaults, then
checks what a schema cannot express (output times beyond the final time, shapes that do not
match the dimension, ...). Every error names the key path, e.g.
``experiments.fig1_b0.pde.cfl: 1.5 is greater than the maximum of 1``.
"""

from __future__ import annotations

import copy
import json
import zlib
from dataclasses import dataclass
from importlib import resources

import jsonschema
import numpy as np
import yaml


class ConfigError(ValueError):
    """A configuration that fails the schema or a consistency check; names the key path."""


def schema() -> dict:
    """The configuration's JSON schema (draft 2020-12)."""
    text = resources.files(__package__).joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _with_defaults(validator_class):
    """A validator that also fills ``default`` values of object properties."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, node):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, node)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _schema_error(config: dict) -> None:
    """Raise ConfigError for the most relevant schema violation, if any."""
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    # descend into oneOf/anyOf to the error that went deepest
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    expected = error.schema.get("description") if isinstance(error.schema, dict) else None
    hint = f" (expected: {expected})" if expected else ""
    raise ConfigError(f"config key '{_key(error.absolute_path)}': {error.message}{hint}")


def validate_config(raw: dict) -> Config:
    """Validate a configuration mapping and return it as a :class:`Config`."""
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping at the top level")
    config = copy.deepcopy(raw)
    _schema_error(config)
    for study in ("meanfield", "sweep"):  # so that their defaults are filled in too
        config.setdefault("studies", {}).setdefault(study, {})
    _with_defaults(jsonschema.Draft202012Validator)(schema()).validate(config)
    experiments = {
        name: _experiment(name, entry) for name, entry in sorted(config["experiments"].items())
    }
    regression = config["data"]["regression"]
    if regression["position_max"] < regression["position_min"]:
        raise ConfigError(
            "config key 'data.regression.position_max': must be >= data.regression.position_min"
        )
    vehicles = config["data"]["vehicles"]
    if vehicles["length_max"] <= vehicles["length_min"]:
        raise ConfigError("config key 'data.vehicles.length_max': must be > length_min")
    studies = config["studies"]
    for i, name in enumerate(studies["meanfield"]["experiments"]):
        exp = experiments.get(name)
        if exp is None or exp.pde is None or exp.dimension != 1:
            raise ConfigError(
                f"config key 'studies.meanfield.experiments.{i}': {name!r} is not a 1-D "
                "experiment with a pde section"
            )
    return Config(
        seed=config["seed"],
        data=config["data"],
        experiments=experiments,
        studies=studies,
        raw=config,
    )


def load_config(path) -> Config:
    """Read a YAML configuration file and validate it."""
    with open(path) as handle:
        try:
            raw = yaml.safe_load(handle)
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path}: not valid YAML ({err})") from None
    return validate_config(raw)


@dataclass(frozen=True)
class Segment:
    """Constant weight W (d x d) and bias b (d) on the time interval [start, until)."""

    start: float
    until: float
    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Experiment:
    """One experiment: network parameters, initial law, times, and solver settings."""

    name: str
    dimension: int
    model: str
    activation: str
    segments: tuple[Segment, ...]
    feedback: float | None
    diffusion: dict | None
    initial: dict
    final_time: float
    output_times: np.ndarray
    particles: dict | None
    pde: dict | None
    raw: dict

    @property
    def weight(self) -> np.ndarray:
        """W of the first segment (the only one when W is constant)."""
        return self.segments[0].weight

    @property
    def bias(self) -> np.ndarray:
        """b of the first segment (zero for a feedback bias)."""
        return self.segments[0].bias

    @property
    def unit(self) -> str:
        """Unit of the data x ("1" when dimensionless)."""
        return self.raw.get("unit", "1")

    @property
    def fits_target(self) -> bool:
        return self.diffusion is not None and self.diffusion["kind"] == "fit_target"

    def seed_sequence(self, base_seed: int, stage: str) -> np.random.SeedSequence:
        """Per-job seed stream from the base seed, the experiment name and the stage."""
        keys = [zlib.crc32(self.name.encode()), zlib.crc32(stage.encode())]
        return np.random.SeedSequence([base_seed, *keys])

    def to_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True)


@dataclass(frozen=True)
class Config:
    seed: int
    data: dict
    experiments: dict[str, Experiment]
    studies: dict
    raw: dict

    def experiments_with(self, stage: str) -> list[str]:
        """Names of the experiments that have a ``particles`` or ``pde`` section."""
        return [n for n, e in self.experiments.items() if getattr(e, stage) is not None]


def _as_vector(value, d: int, key: str) -> np.ndarray:
    v = np.atleast_1d(np.asarray(value, dtype=float))
    if v.size == 1:
        v = np.full(d, v[0])
    if v.shape != (d,):
        raise ConfigError(f"config key '{key}': expected a number or a list of {d} numbers")
    return v


def _as_matrix(value, d: int, key: str) -> np.ndarray:
    m = np.asarray(value, dtype=float)
    if m.ndim == 0:
        return np.eye(d) * float(m)
    if m.shape != (d, d):
        raise ConfigError(f"config key '{key}': expected a number or a {d}x{d} matrix")
    return m


def _check_distribution(dist: dict, d: int, key: str) -> None:
    if dist["kind"] == "uniform":
        low, high = (
            _as_vector(dist["low"], d, key + ".low"),
            _as_vector(dist["high"], d, key + ".high"),
        )
        if np.any(high <= low):
            raise ConfigError(f"config key '{key}.high': must be > low (empty or reversed support)")
    elif dist["kind"] == "gaussian":
        _as_vector(dist["mean"], d, key + ".mean")
        if np.any(_as_vector(dist["std"], d, key + ".std") <= 0):
            raise ConfigError(f"config key '{key}.std': must be > 0")
    else:
        two_d = dist["source"] == "regression.slope_intercept"
        if two_d != (d == 2):
            raise ConfigError(
                f"config key '{key}.source': {dist['source']!r} does not have dimension {d}"
            )


def _segments(name: str, e: dict, d: int) -> tuple[tuple[Segment, ...], float | None]:
    key = f"experiments.{name}"
    bias = e["bias"]
    feedback = bias["feedback"] if isinstance(bias, dict) else None
    if bias == "from_target" or feedback is not None:
        bias = 0.0
    segments = [
        Segment(
            0.0,
            np.inf,
            _as_matrix(e["weight"], d, key + ".weight"),
            _as_vector(bias, d, key + ".bias"),
        )
    ]
    if "segments" in e:
        if feedback is not None:
            raise ConfigError(
                f"config key '{key}.segments': cannot be combined with a feedback bias"
            )
        start, segments = 0.0, []
        for i, s in enumerate(e["segments"]):
            k = f"{key}.segments.{i}"
            if s["until"] <= start:
                raise ConfigError(f"config key '{k}.until': segments must end in increasing order")
            segments.append(
                Segment(
                    start,
                    s["until"],
                    _as_matrix(s["weight"], d, k + ".weight"),
                    _as_vector(s["bias"], d, k + ".bias"),
                )
            )
            start = s["until"]
        if start < e["final_time"]:
            raise ConfigError(
                f"config key '{key}.segments': the last segment must reach final_time"
            )
    return tuple(segments), feedback


def _check_times(name: str, e: dict) -> np.ndarray:
    key = f"experiments.{name}.output_times"
    times = np.asarray(e["output_times"], dtype=float)
    if np.any(np.diff(times) <= 0):
        raise ConfigError(f"config key '{key}': must be strictly increasing")
    if times[-1] > e["final_time"] * (1 + 1e-12):
        raise ConfigError(f"config key '{key}': {times[-1]} is beyond final_time {e['final_time']}")
    particles = e.get("particles")
    if particles is not None:
        layer = e["final_time"] / particles["layers"]
        k = times / layer
        if np.any(np.abs(k - np.round(k)) > 1e-9 * np.maximum(1, k)):
            raise ConfigError(
                f"config key '{key}': every output time must be a layer time "
                f"(multiple of final_time/particles.layers = {layer:g})"
            )
    return times


def _experiment(name: str, e: dict) -> Experiment:
    key = f"experiments.{name}"
    d = e["dimension"]
    segments, feedback = _segments(name, e, d)
    _check_distribution(e["initial"], d, key + ".initial")
    times = _check_times(name, e)
    diffusion = e.get("diffusion")
    if e["model"] == "fokker_planck":
        if d != 1:
            raise ConfigError(f"config key '{key}.dimension': the Fokker-Planck model is 1-D")
        if diffusion is None:
            raise ConfigError(f"config key '{key}.diffusion': required for model fokker_planck")
    if diffusion is not None and diffusion["kind"] == "fit_target":
        _check_distribution(diffusion["target"], d, key + ".diffusion.target")
        if (
            e["bias"] != "from_target"
            or e["activation"] != "identity"
            or segments[0].weight[0, 0] >= 0
        ):
            raise ConfigError(
                f"config key '{key}.bias': fitting a target needs activation identity, "
                "weight < 0 and bias 'from_target'"
            )
    elif e["bias"] == "from_target":
        raise ConfigError(f"config key '{key}.bias': 'from_target' needs diffusion.kind fit_target")
    pde = e.get("pde")
    if pde is not None:
        pde.setdefault(
            "cells", [400] * d if d == 2 else 800 if e["model"] == "fokker_planck" else 400
        )
        cells = pde["cells"]
        if isinstance(cells, list) != (d == 2):
            raise ConfigError(
                f"config key '{key}.pde.cells': give {d} cell count(s) for dimension {d}"
            )
        if "domain" in pde:
            dom = np.asarray(pde["domain"], dtype=float)
            if dom.shape != (d, 2) or np.any(dom[:, 1] <= dom[:, 0]):
                raise ConfigError(
                    f"config key '{key}.pde.domain': expected {d} interval(s) [lo, hi] with lo < hi"
                )
    return Experiment(
        name=name,
        dimension=d,
        model=e["model"],
        activation=e["activation"],
        segments=segments,
        feedback=feedback,
        diffusion=diffusion,
        initial=e["initial"],
        final_time=float(e["final_time"]),
        output_times=times,
        particles=e.get("particles"),
        pde=pde,
        raw=e,
    )
