"""The validated configuration as typed objects: the one place that knows key names.

``load_config(path)`` (or ``validate_config(dict)``) checks the configuration against the
JSON schema (draft 2020-12) shipped with the package, fills the schema's defaults, then
checks what a schema cannot express. Every error names the key path and the value, e.g.
``experiments.fig1_b0.pde.cfl: 1.5 is greater than the maximum of 1``. In order:

1. every number anywhere in the mapping is finite (YAML ``.nan``/``.inf`` pass a schema's
   bounds, since comparisons with NaN are false);
2. the schema; an ``integer`` is an integer in the file (``1.0e+5`` is refused: a float
   with an integral value would pass a plain schema check and fail later in numpy);
3. consistency: output times increasing inside [0, final_time], shapes that match the
   dimension, supports that are not empty, a polynomial diffusion that is non-negative on
   the region the law can occupy (:func:`diffusion_region`), ...;
4. sizes: the memory and work that the configuration asks of one job, estimated from the
   products of its sizes (:func:`resource_estimates`), within :data:`MAX_BYTES` and
   :data:`MAX_OPERATIONS`.

The YAML is read by a strict loader (:func:`load_yaml`) that refuses a key given twice in one
mapping, which a plain loader resolves silently (the last one wins); Snakemake loads its
config files with such a plain loader, so the workflow re-reads them with
:func:`check_config_files`.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import numbers
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from .activations import ACTIVATIONS

#: Largest estimated memory of one job's arrays (bytes): 2 GiB. A job holds a few copies of
#: its largest array (moments, netCDF writing) and two jobs run at once on two cores, so this
#: keeps a 24 GiB machine safe. See :func:`resource_estimates`.
MAX_BYTES = 2 * 1024**3
#: Largest estimated work of one job: 1e11 particle-layer updates (per axis) or grid
#: cell-steps, about half an hour at the measured 70 M Euler-Maruyama particle-steps/s on two
#: cores. See :func:`resource_estimates`.
MAX_OPERATIONS = 10**11
#: Seeds lie in [0, 2**63): they are written to the netCDF files as 64-bit integers.
SEED_LIMIT = 2**63
#: Points of the grid on which ``diffusion.fit_target`` tabulates K (the target's density is
#: evaluated there for every sample of a ``samples`` target).
FIT_TARGET_POINTS = 4097
#: Copies of the grid that a PDE solver keeps besides the recorded densities (the state and
#: the Runge-Kutta stages).
GRID_WORK_COPIES = 4
#: Copies of the particle state in a mean-field study run: the state, the noise, the recorded
#: state, and the sorted and merged copies of the W1 computation.
STUDY_PARTICLE_COPIES = 6


class ConfigError(ValueError):
    """A configuration that fails the schema or a consistency check; names the key path."""


def read_schema(path: str) -> dict:
    """A schema file of the package, by its path in it (``"schemas/config.schema.yaml"``,
    written out in the call: ``code_inputs`` finds the data files a module reads by such
    strings), parsed by libyaml's safe loader where PyYAML has it (every job validates its
    configuration: the pure-Python loader takes 0.1 s of it), else by the pure-Python one;
    the two give the same mapping."""
    text = resources.files(__package__).joinpath(path).read_text()
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    """The schema file, with the activations' enum filled in from their registry."""
    out = read_schema("schemas/config.schema.yaml")
    out["$defs"]["experiment"]["properties"]["activation"]["enum"] = list(ACTIVATIONS)
    return out


def schema() -> dict:
    """The configuration's JSON schema (draft 2020-12)."""
    return copy.deepcopy(_schema())


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


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


@functools.lru_cache(maxsize=1)
def _validator():
    """The default-filling validator of the schema, built once."""
    return _with_defaults(_Validator)(_schema())


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


# ---------------------------------------------------------------------------------------
# Strict YAML: a key given twice in one mapping is an error


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (C-accelerated where available); duplicates are found on the node
    tree before construction, see :func:`load_yaml`."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _refuse_duplicate_keys(loader, node, path, source, seen) -> None:
    if id(node) in seen:  # an alias: already checked where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:  # '<<: *anchor' merges; explicit keys override
                _refuse_duplicate_keys(loader, value_node, path, source, seen)
                continue
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if name is not None:
                key = loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    earlier = first.get(key)
                except TypeError:  # an unhashable key: the constructor reports it
                    earlier = None
                if earlier is not None:
                    raise ConfigError(
                        f"config file {source}, line {line}: duplicate key "
                        f"'{_key([*path, key])}' (first given at line {earlier}); "
                        "a plain YAML loader would silently keep only the last value"
                    )
                try:
                    first[key] = line
                except TypeError:
                    pass
            _refuse_duplicate_keys(loader, value_node, [*path, name], source, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(loader, item, [*path, i], source, seen)


def load_yaml(text, source="<string>"):
    """Parse YAML text (or a stream) with the safe loader, refusing a key given twice in one
    mapping; the error names the file, the key path and both lines. YAML errors become
    :class:`ConfigError` naming the file."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(loader, node, [], source, set())
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {source}: not valid YAML ({err})") from None
    finally:
        loader.dispose()


def _refuse_duplicate_json_keys(source):
    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                raise ConfigError(
                    f"config file {source}: duplicate key '{key}' in one JSON object; a plain "
                    "JSON loader would silently keep only the last value"
                )
            out[key] = value
        return out

    return pairs


def check_config_files(paths) -> None:
    """Re-read config files with the strict loaders and raise :class:`ConfigError` on a key
    given twice in one mapping. For the workflow, whose config Snakemake loads (JSON first,
    then YAML, as here) with loaders that keep the last of duplicate keys; call it with
    ``workflow.configfiles``."""
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        try:
            json.loads(text, object_pairs_hook=_refuse_duplicate_json_keys(path))
        except ValueError as err:
            if isinstance(err, ConfigError):
                raise
            load_yaml(text, path)


def overlay_config(base: dict, overlay: dict) -> dict:
    """``base`` updated by ``overlay``, mapping by mapping, as Snakemake merges the files
    given with ``--configfile`` (and ``--config``) over the workflow's ``config.yaml``;
    except that a mapping naming another ``kind`` than the one it overlays replaces it
    whole. So ``initial: {kind: gaussian, mean: 3, std: 0.7}`` over a uniform law is that
    Gaussian, not a Gaussian with the uniform law's ``low`` and ``high`` left in it (which
    the schema would refuse); a mapping of the same kind, or without ``kind``, updates the
    keys it gives. Lists and numbers replace. Neither argument is modified."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        below = out.get(key)
        if (
            isinstance(value, dict)
            and isinstance(below, dict)
            and value.get("kind", below.get("kind")) == below.get("kind")
        ):
            out[key] = overlay_config(below, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------------
# Validation


def _refuse_non_finite(node, path=()) -> None:
    """Raise ConfigError at the first NaN or infinite number anywhere in the mapping."""
    if isinstance(node, dict):
        for key, value in node.items():
            _refuse_non_finite(value, (*path, key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            _refuse_non_finite(value, (*path, i))
    elif (
        isinstance(node, numbers.Real)
        and not isinstance(node, numbers.Integral)
        and not math.isfinite(node)
    ):
        raise ConfigError(
            f"config key '{_key(path)}': {node!r} is not a finite number (NaN and infinity "
            "are refused everywhere in the configuration)"
        )


def _schema_error(config: dict) -> None:
    """Fill the schema's defaults into ``config`` (in one pass with the checks) and raise
    ConfigError for the most relevant schema violation, if any. Defaults are valid values,
    so filling them in does not change the errors."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(config))
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
    _refuse_non_finite(raw)
    config = copy.deepcopy(raw)
    studies = config.setdefault("studies", {})
    if isinstance(studies, dict):
        for study in ("meanfield", "sweep"):  # so that their defaults are filled in too
            studies.setdefault(study, {})
    training = config.setdefault("training", {})
    if isinstance(training, dict):
        for part in ("mean_field", "gradient", "agreement", "regression"):  # defaults filled in
            training.setdefault(part, {})
    _schema_error(config)
    experiments = {
        name: _experiment(name, entry) for name, entry in sorted(config["experiments"].items())
    }
    regression = config["data"]["regression"]
    if regression["position_max"] < regression["position_min"]:
        raise ConfigError(
            f"config key 'data.regression.position_max': {regression['position_max']!r} is "
            f"below data.regression.position_min {regression['position_min']!r}"
        )
    vehicles = config["data"]["vehicles"]
    if vehicles["length_max"] <= vehicles["length_min"]:
        raise ConfigError(
            f"config key 'data.vehicles.length_max': {vehicles['length_max']!r} must be > "
            f"data.vehicles.length_min {vehicles['length_min']!r}"
        )
    studies = config["studies"]
    for i, name in enumerate(studies["meanfield"]["experiments"]):
        exp = experiments.get(name)
        if exp is None or exp.pde is None or exp.dimension != 1:
            raise ConfigError(
                f"config key 'studies.meanfield.experiments.{i}': {name!r} is not a 1-D "
                "experiment with a pde section"
            )
    for exp in experiments.values():
        _check_polynomial_diffusion(exp, config["data"])
    _check_training(config["training"], vehicles)
    _check_regression_training(config["training"]["regression"])
    settings = Config(
        seed=config["seed"],
        data=config["data"],
        experiments=experiments,
        studies=studies,
        raw=config,
        training=config["training"],
    )
    _check_sizes(settings)
    return settings


def _check_training(training: dict, vehicles: dict) -> None:
    """The training's fixed frame must be an interval that holds the vehicles' law; room for
    where the network carries it (at most sup|σ| final_time = final_time further for tanh
    and sigmoid) is documented with the key, not enforced."""
    low, high = training["mean_field"]["domain"]
    key = "config key 'training.mean_field.domain'"
    if not low < high:
        raise ConfigError(f"{key}: [{low!r}, {high!r}] must have low < high")
    if not (low <= vehicles["length_min"] and vehicles["length_max"] <= high):
        raise ConfigError(
            f"{key}: [{low!r}, {high!r}] must contain the vehicles' lengths "
            f"[{vehicles['length_min']!r}, {vehicles['length_max']!r}]"
        )


def _check_regression_training(regression: dict) -> None:
    """The fixed domain of the regression training, where given, must have low < high on
    both axes and hold the target point."""
    if "domain" not in regression:
        return
    for axis, (low, high) in enumerate(regression["domain"]):
        if not low < high:
            raise ConfigError(
                f"config key 'training.regression.domain.{axis}': [{low!r}, {high!r}] must "
                "have low < high"
            )
        if not low <= regression["target"][axis] <= high:
            raise ConfigError(
                f"config key 'training.regression.domain.{axis}': [{low!r}, {high!r}] must "
                f"contain the target's component {regression['target'][axis]!r}"
            )


def load_config(path) -> Config:
    """Read a YAML configuration file with the strict loader and validate it."""
    with open(path, encoding="utf-8") as handle:
        raw = load_yaml(handle, path)
    return validate_config(raw)


@dataclass(frozen=True)
class Segment:
    """Constant weight W (d x d) and bias b (d) on the time interval [start, until)."""

    start: float
    until: float
    weight: np.ndarray
    bias: np.ndarray


def constant_segments(weight, bias, dimension: int = 1) -> tuple[Segment, ...]:
    """One segment for all time: W = weight (a scalar times the identity, or a d x d
    matrix) and b = bias (a scalar for every component, or a vector)."""
    w = np.asarray(weight, dtype=float)
    w = w * np.eye(dimension) if w.ndim == 0 else w.reshape(dimension, dimension)
    b = np.broadcast_to(np.asarray(bias, dtype=float), (dimension,)).copy()
    return (Segment(0.0, np.inf, w, b),)


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
    training: dict = field(default_factory=dict)

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
    segments = constant_segments(
        _as_matrix(e["weight"], d, key + ".weight"), _as_vector(bias, d, key + ".bias"), d
    )
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
    for i in np.flatnonzero(np.diff(times) <= 0):
        raise ConfigError(
            f"config key '{key}': must be strictly increasing ({key}.{i + 1} = "
            f"{times[i + 1]:g} after {times[i]:g})"
        )
    if times[0] < 0:
        raise ConfigError(f"config key '{key}.0': {times[0]:g} is before t = 0")
    if times[-1] > e["final_time"] * (1 + 1e-12):
        raise ConfigError(
            f"config key '{key}.{times.size - 1}': {times[-1]:g} is beyond final_time "
            f"{e['final_time']:g}"
        )
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
    particles = e.get("particles")
    if particles is not None and particles["count"] == "data" and e["initial"]["kind"] != "samples":
        raise ConfigError(
            f"config key '{key}.particles.count': 'data' (the data set's own samples) needs "
            f"an initial law of kind samples, not {e['initial']['kind']!r}"
        )
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
        fitted = (e.get("diffusion") or {}).get("kind") == "fit_target"
        pde.setdefault("frame", "fixed" if fitted else "moving")
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


# ---------------------------------------------------------------------------------------
# Ranges that the schema cannot state: a polynomial diffusion non-negative where the law goes

#: Bound, in standard deviations, of the Gaussian measurement errors of the regression data
#: (as the default ``truncate`` of a Gaussian law).
NOISE_TAIL = 8.0


def _sample_range(source: str, data: dict) -> np.ndarray:
    """Interval per axis (shape (axes, 2)) that a data source's samples lie in: the vehicle
    lengths' [length_min, length_max]; the regression's slopes y/x = slope + (intercept +
    e)/x and intercepts y - x = (slope - 1) x + intercept + e at positions x in
    [position_min, position_max], with errors |e| <= NOISE_TAIL noise_std."""
    if source == "vehicles.length":
        v = data["vehicles"]
        return np.array([[v["length_min"], v["length_max"]]], dtype=float)
    r = data["regression"]
    xs = np.array([r["position_min"], r["position_max"]], dtype=float)
    e = NOISE_TAIL * r["noise_std"]
    offsets = r["intercept"] + np.array([-e, e])
    slopes = r["slope"] + offsets[:, None] / xs[None, :]
    intercepts = (r["slope"] - 1.0) * xs[:, None] + offsets[None, :]
    ranges = {
        "slope": [slopes.min(), slopes.max()],
        "intercept": [intercepts.min(), intercepts.max()],
    }
    axes = ["slope", "intercept"] if source == "regression.slope_intercept" else [source[11:]]
    return np.array([ranges[a] for a in axes], dtype=float)


def _support(dist: dict, d: int, data: dict) -> np.ndarray:
    """Interval per axis (shape (axes, 2)) that holds a distribution's mass."""
    if dist["kind"] == "uniform":
        low, high = _as_vector(dist["low"], d, ""), _as_vector(dist["high"], d, "")
        return np.stack([low, high], axis=1)
    if dist["kind"] == "gaussian":
        mean, std = _as_vector(dist["mean"], d, ""), _as_vector(dist["std"], d, "")
        half = dist.get("truncate", 8.0) * std
        return np.stack([mean - half, mean + half], axis=1)
    return _sample_range(dist["source"], data)


def diffusion_region(exp: Experiment, data: dict) -> tuple[float, float, str]:
    """The interval [lo, hi] on which a polynomial K(x) must be non-negative, and how it was
    found.

    K is evaluated wherever a particle or a grid cell of the law goes: a negative K makes the
    Fokker-Planck equation ill-posed (backward diffusion) and the network's noise amplitude
    sqrt(2 K) undefined. Where the law goes depends on the run, so the check takes the hull
    of (a) the initial law's support on every axis (K acts on each component): a uniform
    law's [low, high], a Gaussian's mean +- truncate std, the range of a data source's
    samples (:func:`_sample_range`); and (b) ``pde.domain`` when given; then widens that hull
    by its own width on each side (a region three times as wide, with the same centre), for
    the spreading by the diffusion, the drift towards the network's fixed point and the
    smoothing of sampled laws. Beyond this region a moving grid or a particle may still
    meet a negative K; the fixed-frame Fokker-Planck solver also checks K on its grid."""
    boxes = [_support(exp.initial, exp.dimension, data)]
    parts = ["initial support"]
    if exp.pde is not None and "domain" in exp.pde:
        boxes.append(np.asarray(exp.pde["domain"], dtype=float))
        parts.append("pde.domain")
    box = np.concatenate(boxes)
    lo, hi = float(box[:, 0].min()), float(box[:, 1].max())
    width = hi - lo
    what = " and ".join(parts) + f" [{lo:g}, {hi:g}] widened by its width on each side"
    return lo - width, hi + width, what


def _check_polynomial_diffusion(exp: Experiment, data: dict) -> None:
    spec = exp.diffusion
    if spec is None or spec["kind"] != "polynomial":
        return
    key = f"experiments.{exp.name}.diffusion.coefficients"
    c = np.asarray(spec["coefficients"], dtype=float)
    lo, hi, what = diffusion_region(exp, data)
    poly = np.polynomial.Polynomial(c)
    xs = [np.linspace(lo, hi, 1001)]
    with np.errstate(all="ignore"):
        if c.size > 2 and np.any(c[2:] != 0):  # the interior extrema: roots of K'
            roots = np.atleast_1d(poly.deriv().roots())
            near_real = np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots))
            xs.append(np.clip(roots.real[near_real & np.isfinite(roots.real)], lo, hi))
        xs = np.concatenate(xs)
        values = poly(xs)
        scale = np.polynomial.Polynomial(np.abs(c))(max(abs(lo), abs(hi), 1.0))
    region = f"[{lo:g}, {hi:g}], the region the law can occupy ({what})"
    if not (np.all(np.isfinite(values)) and np.isfinite(scale)):
        raise ConfigError(
            f"config key '{key}': K(x) = sum_k c_k x^k with coefficients {c.tolist()} "
            f"overflows on {region}"
        )
    i = int(np.argmin(values))
    if values[i] < -1e-12 * scale:
        raise ConfigError(
            f"config key '{key}': K(x) = sum_k c_k x^k with coefficients {c.tolist()} is "
            f"negative on {region}: K({xs[i]:.6g}) = {values[i]:.6g}; K must be >= 0 there"
        )


# ---------------------------------------------------------------------------------------
# Sizes: memory and work from the products of the configuration's sizes


@dataclass(frozen=True)
class Estimate:
    """Memory (bytes) or work (operations) that a configuration asks of one job."""

    kind: str  # "memory" or "work"
    amount: float
    what: str  # e.g. "the particle states of experiments.fig4_tanh"
    formula: str  # the product, with the keys and their values
    keys: tuple[str, ...]

    @property
    def limit(self) -> int:
        return MAX_BYTES if self.kind == "memory" else MAX_OPERATIONS

    def describe(self, amount: float | None = None) -> str:
        amount = self.amount if amount is None else amount
        return _human_bytes(amount) if self.kind == "memory" else _human_count(amount)


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def _human_count(n: float) -> str:
    return f"{n:.3g} operations"


def _samples(source: str, data: dict) -> tuple[int, str, tuple[str, ...]]:
    """Number of samples of a data source, as a product of keys (text) and its keys."""
    if source.startswith("vehicles."):
        count = data["vehicles"]["count"]
        return count, f"data.vehicles.count {count}", ("data.vehicles.count",)
    r = data["regression"]
    return (
        r["positions"] * r["repeats"],
        f"data.regression.positions {r['positions']} x data.regression.repeats {r['repeats']}",
        ("data.regression.positions", "data.regression.repeats"),
    )


def _experiment_estimates(exp: Experiment, data: dict) -> list[Estimate]:
    key, d = f"experiments.{exp.name}", exp.dimension
    axes = f"{d} ax{'is' if d == 1 else 'es'} ({key}.dimension)"
    out = []
    p = exp.particles
    if p is not None:
        if p["count"] == "data":
            m, m_text, m_keys = _samples(exp.initial.get("source", ""), data)
            m_text = f"{m_text} samples ({key}.particles.count data)"
        else:
            m = p["count"]
            m_text, m_keys = f"{key}.particles.count {m}", (f"{key}.particles.count",)
        layers = p["layers"]
        if p["record_every_layer"]:
            recorded = layers + 1
            r_text = (
                f"{recorded} recorded layers ({key}.particles.layers {layers} + 1, "
                f"{key}.particles.record_every_layer)"
            )
            r_keys = (f"{key}.particles.layers", f"{key}.particles.record_every_layer")
        else:
            recorded = len(exp.output_times)
            r_text, r_keys = f"{recorded} {key}.output_times", (f"{key}.output_times",)
        out.append(
            Estimate(
                "memory",
                m * recorded * d * 8,
                f"the particle states of {key}",
                f"{m_text} x {r_text} x {axes} x 8 bytes",
                (*m_keys, *r_keys, f"{key}.dimension"),
            )
        )
        out.append(
            Estimate(
                "work",
                m * layers * d,
                f"the particle updates of {key}",
                f"{m_text} x {key}.particles.layers {layers} x {axes}",
                (*m_keys, f"{key}.particles.layers", f"{key}.dimension"),
            )
        )
    if exp.fits_target and exp.diffusion["target"]["kind"] == "samples":
        n, n_text, n_keys = _samples(exp.diffusion["target"]["source"], data)
        points = max(FIT_TARGET_POINTS, int(np.prod(exp.pde["cells"])) if exp.pde else 0)
        out.append(
            Estimate(
                "memory",
                n * points * 8,
                f"the target density of {key}.diffusion",
                f"{n_text} samples x {points} points (the fitted K's table, or "
                f"{key}.pde.cells) x 8 bytes",
                (*n_keys, f"{key}.diffusion.target.source"),
            )
        )
    pde = exp.pde
    if pde is not None:
        cells = [int(c) for c in np.atleast_1d(pde["cells"])]
        total = math.prod(cells)
        c_text = f"{key}.pde.cells {' x '.join(map(str, cells))}"
        times = len(exp.output_times)
        out.append(
            Estimate(
                "memory",
                total * (times + GRID_WORK_COPIES) * 8,
                f"the PDE grid of {key}",
                f"{c_text} cells x ({times} {key}.output_times + {GRID_WORK_COPIES} work "
                "copies) x 8 bytes",
                (f"{key}.pde.cells", f"{key}.output_times"),
            )
        )
        initial = exp.initial
        if initial["kind"] == "samples" and initial.get("smoothing") == "kde":
            n, n_text, n_keys = _samples(initial["source"], data)
            edges = sum(c + 1 for c in cells)
            out.append(
                Estimate(
                    "memory",
                    n * edges * 8,
                    f"the kernel weights of the initial KDE of {key}",
                    f"{n_text} samples x {edges} cell edges ({c_text}) x 8 bytes",
                    (*n_keys, f"{key}.pde.cells"),
                )
            )
        if exp.model == "fokker_planck":
            steps = exp.final_time / pde["time_step"]
            steps = math.ceil(steps - 1e-9) if steps < 1e18 else steps
            out.append(
                Estimate(
                    "work",
                    total * steps,
                    f"the Fokker-Planck steps of {key}",
                    f"{c_text} cells x {steps if isinstance(steps, int) else f'{steps:.3g}'} "
                    f"steps ({key}.final_time {exp.final_time:g} / "
                    f"{key}.pde.time_step {pde['time_step']:g})",
                    (f"{key}.pde.cells", f"{key}.final_time", f"{key}.pde.time_step"),
                )
            )
    return out


def resource_estimates(settings: Config) -> list[Estimate]:
    """Memory and work that the configuration asks of its largest jobs, from the products
    of its sizes: the data sets; per experiment, the particle states (particles x recorded
    times x axes x 8 bytes) and updates (particles x layers x axes), the PDE grid (cells x
    (output times + work copies) x 8 bytes), a KDE's kernel weights (samples x cell edges x
    8 bytes), a fitted K's target density and the Fokker-Planck cell-steps; the mean-field
    study's particles (largest M x copies x 8 bytes) and updates (sum of M x seeds x
    layers). Each is checked against :data:`MAX_BYTES` or :data:`MAX_OPERATIONS`."""
    data = settings.data
    r, v = data["regression"], data["vehicles"]
    out = [
        Estimate(
            "memory",
            r["positions"] * r["repeats"] * 4 * 8,
            "the regression data set",
            f"data.regression.positions {r['positions']} x data.regression.repeats "
            f"{r['repeats']} measurements x 4 variables x 8 bytes",
            ("data.regression.positions", "data.regression.repeats"),
        ),
        Estimate(
            "memory",
            v["count"] * 9,
            "the vehicle data set",
            f"data.vehicles.count {v['count']} x 9 bytes (length and class)",
            ("data.vehicles.count",),
        ),
    ]
    for exp in settings.experiments.values():
        out.extend(_experiment_estimates(exp, data))
    study = settings.studies["meanfield"]
    counts, seeds, layers = study["particles"], study["seeds"], study["layers"]
    keys = ("studies.meanfield.particles", "studies.meanfield.seeds", "studies.meanfield.layers")
    out.append(
        Estimate(
            "memory",
            max(counts) * STUDY_PARTICLE_COPIES * 8,
            "the particles of the mean-field study",
            f"largest studies.meanfield.particles {max(counts)} x {STUDY_PARTICLE_COPIES} "
            "copies x 8 bytes",
            keys[:1],
        )
    )
    out.append(
        Estimate(
            "work",
            sum(counts) * seeds * layers,
            "the particle updates of the mean-field study (per experiment)",
            f"sum of studies.meanfield.particles {sum(counts)} x studies.meanfield.seeds "
            f"{seeds} x studies.meanfield.layers {layers}",
            keys,
        )
    )
    training = settings.training
    if training:
        counts, layers, rounds = (
            training["particles"],
            training["layers"],
            training["max_iterations"],
        )
        out.append(
            Estimate(
                "work",
                sum(counts) * layers * rounds,
                "the particle objectives of the training (one evaluation per iteration)",
                f"sum of training.particles {sum(counts)} x training.layers {layers} x "
                f"training.max_iterations {rounds}",
                ("training.particles", "training.layers", "training.max_iterations"),
            )
        )
    return out


def _check_sizes(settings: Config) -> None:
    for est in resource_estimates(settings):
        if est.amount > est.limit:
            name = "MAX_BYTES" if est.kind == "memory" else "MAX_OPERATIONS"
            raise ConfigError(
                f"config keys {' x '.join(repr(k) for k in est.keys)}: {est.describe()} for "
                f"{est.what} ({est.formula}), more than the {est.describe(est.limit)} that "
                f"one job may use ({name} in meanfield_resnet.settings)"
            )
