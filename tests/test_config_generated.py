"""Generated malformed configurations, the strict YAML loader, the size limits and the sweep
table: each is refused before any job, with the key path (or the table's row and column) in
the message. Validation only; nothing runs."""

from __future__ import annotations

import collections
import copy
import json
import math
import numbers
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from meanfield_resnet import settings
from meanfield_resnet.settings import (
    ConfigError,
    check_config_files,
    load_config,
    load_yaml,
    resource_estimates,
    schema,
    validate_config,
)
from meanfield_resnet.sweep_table import load_sweep_table

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / ".test/config/config.yaml"
E = "experiments.fig4_tanh"


def names_key(message: str, key: str) -> bool:
    """Whether the message names exactly this key path (not a longer one such as
    output_times.12 for output_times.1)."""
    return re.search(rf"(?<![\w.]){re.escape(key)}(?!\w|\.\w)", message) is not None


def set_key(cfg, path, value):
    node = cfg
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return cfg


# ---------------------------------------------------------------------------------------
# The generated suite: every numeric leaf of the .test configuration (defaults filled in)


def numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numeric_leaves(value, (*path, i))
    elif isinstance(node, numbers.Real) and not isinstance(node, bool):
        yield path, node


def leaf_schemas(node, path, root):
    """The subschemas that may apply to the value at ``path``: $ref, properties,
    additionalProperties and items followed; every branch of oneOf/anyOf/allOf and every
    ``then`` kept."""
    while "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    out = []
    for word in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(word, []):
            out += leaf_schemas(sub, path, root)
    if isinstance(node.get("then"), dict):
        out += leaf_schemas(node["then"], path, root)
    if not path:
        return out + [node]
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        if isinstance(node.get("items"), dict):
            out += leaf_schemas(node["items"], rest, root)
    elif isinstance(node.get("properties", {}).get(head), dict):
        out += leaf_schemas(node["properties"][head], rest, root)
    elif isinstance(node.get("additionalProperties"), dict):
        out += leaf_schemas(node["additionalProperties"], rest, root)
    return out


def step(bound, integer):
    return 1 if integer else 0.25 * max(1.0, abs(bound))


def range_cases(path, value, root):
    """Values just beyond the schema's range for the leaf (and, where it wants an integer,
    a fraction and its own value written as a float), as (kind, value)."""
    numeric = [s for s in leaf_schemas(root, path, root) if s.get("type") in ("integer", "number")]
    enums = [s["enum"] for s in leaf_schemas(root, path, root) if "enum" in s]
    out = []
    for s in numeric:
        integer = s["type"] == "integer"
        if "minimum" in s:
            out.append(("below minimum", s["minimum"] - step(s["minimum"], integer)))
        if "exclusiveMinimum" in s:
            out.append(("below minimum", s["exclusiveMinimum"]))
        if "maximum" in s:
            out.append(("above maximum", s["maximum"] + step(s["maximum"], integer)))
        if "exclusiveMaximum" in s:
            out.append(("above maximum", s["exclusiveMaximum"]))
        if integer:
            out.append(("not an integer", 2.5))
            out.append(("integral float", float(value)))
    for values in enums:
        out.append(("outside enum", max(values) + 1))
        if isinstance(value, int):
            out.append(("integral float", float(value)))
    return list(dict.fromkeys(out))  # no repeats


def generated_cases():
    base = validate_config(yaml.safe_load(TEST_CONFIG.read_text())).raw
    root = schema()
    cases = []
    for path, value in numeric_leaves(base):
        tries = [
            ("NaN", math.nan),
            ("+inf", math.inf),
            ("-inf", -math.inf),
            ("word", "abc"),
            *range_cases(path, value, root),
        ]
        cases += [(path, kind, value) for kind, value in tries]
    return base, cases


BASE, CASES = generated_cases()


def reduced(base, path):
    """The configuration with only the experiment that the case changes (and one that the
    mean-field study can use, when it is not one), or only the study's experiments for the
    other keys: validation time grows with the number of experiments, each is checked on
    its own."""
    cfg = copy.deepcopy({k: v for k, v in base.items() if k != "experiments"})
    study = cfg["studies"]["meanfield"]
    if path[0] == "experiments":
        name, exp = path[1], base["experiments"][path[1]]
        if exp["dimension"] == 1 and "pde" in exp:
            study["experiments"] = [name]
        keep = {name, *study["experiments"]}
    else:
        keep = set(study["experiments"])
    cfg["experiments"] = copy.deepcopy({k: base["experiments"][k] for k in sorted(keep)})
    return cfg


def test_generated_malformed_values_are_refused_naming_the_key():
    tried, refused = collections.Counter(), collections.Counter()
    failures = []
    for path, kind, value in CASES:
        key = ".".join(map(str, path))
        tried[kind] += 1
        try:
            validate_config(set_key(reduced(BASE, path), path, value))
        except ConfigError as err:
            if names_key(str(err), key):
                refused[kind] += 1
            else:
                failures.append(f"{key} = {value!r} ({kind}): message does not name it: {err}")
        except Exception as err:  # noqa: BLE001 - a crash is a failure to report, not stop at
            failures.append(f"{key} = {value!r} ({kind}): {type(err).__name__}: {err}")
        else:
            failures.append(f"{key} = {value!r} ({kind}): accepted")
    leaves = len({path for path, _, _ in CASES})
    print(
        f"\ngenerated config cases: {leaves} numeric leaves, {sum(tried.values())} tried, "
        f"{sum(refused.values())} refused naming the key; per kind: "
        + ", ".join(f"{k} {refused[k]}/{tried[k]}" for k in tried)
    )
    assert not failures, f"{len(failures)} not refused:\n" + "\n".join(failures[:40])


def test_generated_suite_covers_the_keys_that_slipped_through():
    keys = {".".join(map(str, path)) for path, _, _ in CASES}
    for suffix in (
        "bias",
        "bias.feedback",
        "final_time",
        "output_times.0",
        "initial.std",
        "initial.low",
        "initial.high",
        "diffusion.value",
        "pde.cfl",
        "pde.time_step",
        "pde.theta",
        "pde.mass_tolerance",
        "pde.frame_step",
    ):
        assert any(k.startswith("experiments.") and k.endswith("." + suffix) for k in keys), suffix
    assert {"seed", "data.regression.noise_std", "studies.meanfield.particles.0"} <= keys
    kinds = collections.Counter(kind for _, kind, _ in CASES)
    assert kinds["below minimum"] > 50 and kinds["above maximum"] > 20, kinds


def test_the_base_configurations_pass():
    validate_config(copy.deepcopy(BASE))
    for path in {path[:2] for path, _, _ in CASES}:  # every reduced base is valid
        validate_config(reduced(BASE, path))
    load_config(ROOT / "config/config.yaml")


# ---------------------------------------------------------------------------------------
# Values whose range the schema cannot state


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "path",
    [
        "data.regression.noise_std",
        "data.vehicles.examples.2",
        f"{E}.pde.cfl",
        f"{E}.bias",
        "experiments.fig1_feedback.bias.feedback",
        f"{E}.diffusion.coefficients.1",
        f"{E}.segments.0.until",
        f"{E}.pde.domain.0.1",
    ],
)
def test_non_finite_numbers_are_refused_anywhere(config_dict, path, value):
    exp = config_dict["experiments"]["fig4_tanh"]
    exp["diffusion"] = {"kind": "polynomial", "coefficients": [1.0, 0.0]}
    exp["segments"] = [{"until": 5.0, "weight": 1.0, "bias": -5.0}]
    exp["pde"]["domain"] = [[1.0, 9.0]]
    validate_config(copy.deepcopy(config_dict))  # valid before the change
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    with pytest.raises(ConfigError, match="not a finite number") as err:
        validate_config(set_key(config_dict, parts, value))
    assert names_key(str(err.value), path) and repr(value) in str(err.value)


@pytest.mark.parametrize(
    ("seed", "ok"),
    [(0, True), (2**63 - 1, True), (2**63, False), (2.0e64, False), (5.0, False), (-1, False)],
)
def test_seed_range(config_dict, seed, ok):
    config_dict["seed"] = seed
    if ok:
        assert validate_config(config_dict).seed == seed
    else:
        with pytest.raises(ConfigError, match="'seed'"):
            validate_config(config_dict)


def test_integers_written_as_floats_are_refused(config_dict):
    config_dict["experiments"]["fig4_tanh"]["particles"]["count"] = 1.0e5
    with pytest.raises(ConfigError, match=f"{E}.particles.count"):
        validate_config(config_dict)


def polynomial(config_dict, coefficients, **pde):
    exp = config_dict["experiments"]["fig9_fokker_planck"]  # initial U[2, 8]
    exp["diffusion"] = {"kind": "polynomial", "coefficients": coefficients}
    exp["pde"].update(pde)
    return config_dict


@pytest.mark.parametrize(
    ("coefficients", "pde", "ok"),
    [
        ([1.0], {}, True),
        ([0.0], {}, True),
        ([25.0, -10.0, 1.0], {}, True),  # (x - 5)^2: zero at 5, tolerated
        ([1.0, 0.0, 0.001], {}, True),
        ([-0.5], {}, False),
        ([1.0, -0.2], {}, False),  # negative beyond x = 5, inside the support
        ([1.0, 0.0, -0.01], {}, False),  # 1 - x^2/100: negative beyond 10, region [-4, 14]
        ([1.0, 0.1], {}, True),  # negative below -10, outside the region
        ([1.0, 0.1], {"frame": "fixed", "domain": [[-20.0, 9.0]]}, False),  # the domain
        ([1.0, 0.0, 0.0, 1e308], {}, False),  # overflows
    ],
)
def test_polynomial_diffusion_non_negative_where_the_law_goes(config_dict, coefficients, pde, ok):
    config_dict = polynomial(config_dict, coefficients, **pde)
    if ok:
        validate_config(config_dict)
        return
    with pytest.raises(ConfigError) as err:
        validate_config(config_dict)
    message = str(err.value)
    assert names_key(message, "experiments.fig9_fokker_planck.diffusion.coefficients")
    assert str(coefficients) in message
    assert ("pde.domain" in message) == ("domain" in pde)


def test_diffusion_region_of_sampled_and_gaussian_laws(config_dict):
    cfg = validate_config(config_dict)
    lo, hi, what = settings.diffusion_region(cfg.experiments["fit_vehicles"], cfg.data)
    assert (lo, hi) == (5.0 - 3 * 8.0, 5.0 + 3 * 8.0)  # N(5, 1) cut at 8 std, widened
    lo, hi, what = settings.diffusion_region(cfg.experiments["fig7_regression_1d"], cfg.data)
    assert lo < 1.0 - 8.0 < 1.0 + 8.0 < hi and "initial support" in what


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ([0.0, 1.0, 1.0], "output_times': must be strictly increasing"),
        ([0.0, 2.0, 1.0], "output_times.2 = 1 after 2"),
        ([0.0, 6.0], "output_times.1': 6 is beyond final_time 5"),
        ([-1.0, 0.0], "output_times.0"),
    ],
)
def test_output_times_sorted_inside_the_run(config_dict, times, message):
    config_dict["experiments"]["fig4_tanh"]["output_times"] = times
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(config_dict)


def test_output_times_may_end_at_final_time(config_dict):
    config_dict["experiments"]["fig4_tanh"]["output_times"] = [0.0, 5.0]
    validate_config(config_dict)


# ---------------------------------------------------------------------------------------
# Sizes: products of keys within MAX_BYTES and MAX_OPERATIONS


def _particles(cfg, **kw):
    cfg["experiments"]["fig4_tanh"]["particles"].update(kw)


SIZE_CASES = {
    "regression positions x repeats": (
        lambda c: c["data"]["regression"].update(positions=10**6, repeats=10**6),
        ["data.regression.positions", "data.regression.repeats"],
        "TiB",
    ),
    "KDE samples x cells": (
        lambda c: c["data"]["regression"].update(positions=10**4, repeats=10**3),
        ["data.regression.positions", "experiments.fig6_regression_2d.pde.cells"],
        "GiB",
    ),
    "particles x recorded layers": (
        lambda c: _particles(c, count=10**8, layers=10**4, record_every_layer=True),
        [f"{E}.particles.count", f"{E}.particles.record_every_layer"],
        "TiB",
    ),
    "particles x layers (work)": (
        lambda c: _particles(c, count=10**7, layers=10**5),
        [f"{E}.particles.count", f"{E}.particles.layers"],
        "operations",
    ),
    "data samples x recorded layers": (
        lambda c: (
            c["data"]["vehicles"].update(count=10**7),
            c["experiments"]["fig3_vehicles"]["particles"].update(layers=1000),
        ),
        ["data.vehicles.count", "experiments.fig3_vehicles.particles.layers"],
        "GiB",
    ),
    "2-D cells": (
        lambda c: c["experiments"]["fig6_regression_2d"]["pde"].update(cells=[10**5, 10**5]),
        ["experiments.fig6_regression_2d.pde.cells"],
        "GiB",
    ),
    "1-D cells x output times": (
        lambda c: c["experiments"]["fig4_tanh"]["pde"].update(cells=10**8),
        [f"{E}.pde.cells", f"{E}.output_times"],
        "GiB",
    ),
    "Fokker-Planck cells x steps": (
        lambda c: c["experiments"]["fig9_fokker_planck"]["pde"].update(time_step=1e-9),
        ["experiments.fig9_fokker_planck.pde.time_step"],
        "operations",
    ),
    "fitted target samples x points": (
        lambda c: c["data"]["vehicles"].update(count=10**6),
        ["data.vehicles.count", "experiments.fit_vehicles.diffusion.target.source"],
        "GiB",
    ),
    "mean-field study particles x seeds x layers": (
        lambda c: c["studies"]["meanfield"].update(particles=[100, 10**6, 10**7], layers=10**4),
        ["studies.meanfield.particles", "studies.meanfield.seeds", "studies.meanfield.layers"],
        "operations",
    ),
    "mean-field study particles (memory)": (
        lambda c: c["studies"]["meanfield"].update(particles=[100, 1000, 10**8]),
        ["studies.meanfield.particles"],
        "GiB",
    ),
}


@pytest.mark.parametrize("name", SIZE_CASES)
def test_size_products_are_limited(config_dict, name):
    change, keys, unit = SIZE_CASES[name]
    change(config_dict)
    with pytest.raises(ConfigError) as err:
        validate_config(config_dict)
    message = str(err.value)
    print(message)
    assert all(f"'{k}'" in message for k in keys), message
    assert unit in message and ("MAX_BYTES" in message or "MAX_OPERATIONS" in message)


def test_meanfield_particles_have_a_maximum(config_dict):
    config_dict["studies"]["meanfield"]["particles"] = [100, 1000, 10**12]
    with pytest.raises(ConfigError, match="studies.meanfield.particles.2"):
        validate_config(config_dict)


@pytest.mark.parametrize("path", [TEST_CONFIG, ROOT / "config/config.yaml"])
def test_shipped_configurations_are_far_below_the_limits(path):
    estimates = resource_estimates(load_config(path))
    assert {e.kind for e in estimates} == {"memory", "work"}
    worst = max(estimates, key=lambda e: e.amount / e.limit)
    assert worst.amount * 20 <= worst.limit, (worst.what, worst.describe())


# ---------------------------------------------------------------------------------------
# Duplicate keys


DUPLICATES = {
    "experiment key": (
        "    weight: 1.0              # [paper]\n",
        "    weight: 1.0\n    weight: 2.0\n",
    ),
    "experiment": ("  fig4_tanh:", "  fig1_b0:"),
    "top level": ("seed: 20220407", "seed: 1\nseed: 2"),
}


@pytest.mark.parametrize("name", DUPLICATES)
def test_duplicate_yaml_keys_are_refused(tmp_path, name):
    old, new = DUPLICATES[name]
    text = TEST_CONFIG.read_text()
    assert old in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(old, new, 1))
    yaml.safe_load(path.read_text())  # a plain loader takes it silently
    for load in (load_config, lambda p: check_config_files([p])):
        with pytest.raises(ConfigError, match=r"line \d+: duplicate key") as err:
            load(path)
        assert str(path) in str(err.value)
    line = int(re.search(r"line (\d+)", str(err.value)).group(1))
    assert path.read_text().splitlines()[line - 1].strip().startswith(new.split(":")[0].strip())


def test_duplicate_key_names_the_path_and_both_lines():
    with pytest.raises(ConfigError) as err:
        load_yaml("a:\n  b: [1, {c: 1,\n    c: 2}]\n", "x.yaml")
    assert "duplicate key 'a.b.1.c'" in str(err.value) and "first given at line 2" in str(err.value)


def test_merge_keys_and_aliases_are_not_duplicates():
    assert load_yaml("a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  p: 3\nc: *x\n") == {
        "a": {"p": 1, "q": 2},
        "b": {"p": 3, "q": 2},
        "c": {"p": 1, "q": 2},
    }


def test_check_config_files_reads_json_like_snakemake(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"seed": 1, "data": {}}))
    check_config_files([good, TEST_CONFIG, str(ROOT / "config/config.yaml")])
    bad = tmp_path / "bad.json"
    bad.write_text('{"seed": 1, "seed": 2}')
    with pytest.raises(ConfigError, match="duplicate key 'seed'"):
        check_config_files([bad])


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("seed: [1\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(path)


# ---------------------------------------------------------------------------------------
# The sweep table


HEADER = "activation\tweight\tbias\n"
TABLES = {
    # name: (text, what the message must contain)
    "NaN cell": (
        HEADER + "tanh\tNaN\t-5.0\n",
        "row 1 (line 2), column weight: 'NaN' is not a finite",
    ),
    "inf cell": (
        HEADER + "tanh\t1.0\t-inf\n",
        "row 1 (line 2), column bias: '-inf' is not a finite",
    ),
    "huge": (HEADER + "tanh\t1e999\t1\n", "column weight: '1e999' is not a finite"),
    "empty cell": (
        HEADER + "tanh\t1.0\t-5.0\ntanh\t\t-4.0\n",
        "row 2 (line 3), column weight: empty",
    ),
    "word": (HEADER + "tanh\tone\t-5.0\n", "column weight: 'one' is not a decimal number"),
    "underscore": (HEADER + "tanh\t1_0\t-5.0\n", "column weight: '1_0' is not a decimal number"),
    "duplicate": (
        HEADER + "tanh\t1.0\t-5.0\nrelu\t1\t2\ntanh\t1\t-5\n",
        "row 3 (line 4): the same point (activation=tanh, weight=1.0, bias=-5.0) as row 1",
    ),
    "header only": (HEADER, "no rows"),
    "empty file": ("", "empty file"),
    "comma-separated": ("activation,weight,bias\ntanh,1.0,-5.0\n", "not tab-separated"),
    "missing column": ("activation\tweight\ntanh\t1.0\n", "line 1: header"),
    "extra column": ("activation\tweight\tbias\tseed\ntanh\t1\t2\t3\n", "line 1: header"),
    "reordered": ("weight\tactivation\tbias\n1.0\ttanh\t-5.0\n", "line 1: header"),
    "short row": (HEADER + "tanh\t1.0\n", "row 1 (line 2): 2 tab-separated cells"),
    "long row": (HEADER + "tanh\t1.0\t2\t3\n", "row 1 (line 2): 4 tab-separated cells"),
    "parent path": (
        HEADER + "../../../../x\t1.0\t-5.0\n",
        "column activation: '../../../../x' contains path",
    ),
    "slash": (HEADER + "tanh/x\t1.0\t-5.0\n", "contains path characters"),
    "backslash": (HEADER + "tanh\\x\t1.0\t-5.0\n", "contains path characters"),
    "space": (HEADER + "tanh \t1.0\t-5.0\n", "column activation: 'tanh ' contains path"),
    "space in number": (HEADER + "tanh\t 1.0\t-5.0\n", "column weight: ' 1.0' contains path"),
    "unknown activation": (HEADER + "swish_unknown\t1.0\t-5.0\n", "'swish_unknown' is not one of"),
    "quoted": (HEADER + '"tanh"\t1.0\t-5.0\n', "is not one of"),
}


def write(tmp_path, text, name="config/sweep.tsv"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return name


@pytest.mark.parametrize("name", TABLES)
def test_malformed_sweep_tables_are_refused(tmp_path, name):
    text, expected = TABLES[name]
    rel = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_sweep_table(rel, tmp_path)
    message = str(err.value)
    print(message)
    assert f"sweep table {rel} (studies.sweep.table)" in message and expected in message


@pytest.mark.parametrize("table", ["config/sweep.tsv", ".test/config/sweep.tsv"])
def test_shipped_sweep_tables_read_as_pandas_reads_them(table):
    from snakemake.utils import Paramspace

    ours = load_sweep_table(table, ROOT)
    plain = pd.read_csv(ROOT / table, sep="\t")
    pd.testing.assert_frame_equal(ours, plain)
    patterns = list(Paramspace(ours, filename_params="*").instance_patterns)
    assert patterns == list(Paramspace(plain, filename_params="*").instance_patterns)
    assert "activation~tanh_weight~1.0_bias~-5.0" in patterns


def test_sweep_table_integer_columns_and_blank_lines_as_pandas(tmp_path):
    rel = write(tmp_path, HEADER + "tanh\t1\t-5\n\nrelu\t2\t+3e0\r\n")
    ours = load_sweep_table(rel, tmp_path)
    pd.testing.assert_frame_equal(ours, pd.read_csv(tmp_path / rel, sep="\t"))
    assert len(ours) == 2


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.tsv", "config/../../outside.tsv"])
def test_sweep_table_outside_the_project_is_refused(tmp_path, path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.tsv").write_text(HEADER + "tanh\t1\t2\n")
    with pytest.raises(ConfigError, match="'studies.sweep.table': .* outside the project"):
        load_sweep_table(path, project)


def test_sweep_table_symlink_out_of_the_project_is_refused(tmp_path):
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (tmp_path / "outside.tsv").write_text(HEADER + "tanh\t1\t2\n")
    (project / "config/sweep.tsv").symlink_to(tmp_path / "outside.tsv")
    with pytest.raises(ConfigError, match="outside the project .*symbolic links"):
        load_sweep_table("config/sweep.tsv", project)


@pytest.mark.parametrize("path", ["config/missing.tsv", "config"])
def test_missing_sweep_table_names_the_key_and_path(tmp_path, path):
    (tmp_path / "config").mkdir()
    with pytest.raises(ConfigError, match=f"'studies.sweep.table': the sweep table '{path}'"):
        load_sweep_table(path, tmp_path)


def test_sweep_row_schema_takes_the_activations_from_the_registry():
    import jsonschema

    from meanfield_resnet import sweep_table
    from meanfield_resnet.activations import ACTIVATIONS

    schema = sweep_table.row_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["activation"]["enum"] == list(ACTIVATIONS)
    assert sweep_table.activations() == list(ACTIVATIONS)
    assert schema["required"] == list(sweep_table.COLUMNS) == list(schema["properties"])
    # the file names no activation: the enum is filled in when the schema is loaded
    raw = yaml.safe_load(
        (ROOT / "src/meanfield_resnet/schemas/sweep.schema.yaml").read_text(encoding="utf-8")
    )
    assert "enum" not in raw["properties"]["activation"]


ROWS = {
    # name: (row, the column and what the message must contain)
    "NaN weight": ({"activation": "tanh", "weight": math.nan, "bias": 1.0}, "weight", "nan"),
    "inf bias": ({"activation": "tanh", "weight": 1.0, "bias": -math.inf}, "bias", "-inf"),
    "boolean": ({"activation": "tanh", "weight": True, "bias": 1.0}, "weight", "True"),
    "text": ({"activation": "tanh", "weight": 1.0, "bias": "1"}, "bias", "'1'"),
    "activation": ({"activation": "swish_unknown", "weight": 1.0, "bias": 1.0}, "activation",
                   "'swish_unknown' is not one of"),
}  # fmt: skip


@pytest.mark.parametrize("name", ROWS)
def test_sweep_rows_are_checked_against_the_schema(name):
    from meanfield_resnet.sweep_table import check_row

    row, column, expected = ROWS[name]
    where = "sweep table t.tsv (studies.sweep.table), row 3 (line 5)"
    with pytest.raises(ConfigError) as err:
        check_row(row, where)
    message = str(err.value)
    assert message.startswith(f"{where}, column {column}: ") and expected in message, message
    check_row({"activation": "relu", "weight": -2, "bias": 0.5}, where)  # a good row passes


def test_bad_activation_in_the_sweep_table_names_table_row_line_and_column(tmp_path):
    rel = write(tmp_path, HEADER + "tanh\t1\t2\n\nswish_unknown\t1.0\t-5.0\n")
    with pytest.raises(ConfigError) as err:
        load_sweep_table(rel, tmp_path)
    assert str(err.value).startswith(
        f"sweep table {rel} (studies.sweep.table), row 2 (line 4), column activation: "
        "'swish_unknown' is not one of ['identity', 'tanh'"
    ), str(err.value)
