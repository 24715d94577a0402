"""The sweep table (``studies.sweep.table``): one study job per row, its values in file names.

The workflow turns each row (activation, weight, bias) into a job through Snakemake's
``Paramspace``, whose values become parts of output and log paths
(``results/sweep/activation~tanh_weight~0.5_bias~-6.0.nc``). :func:`load_sweep_table`
therefore refuses, with the table, the row and the column in the message, whatever would end
in a traceback inside a job or a file outside ``results/``: a table outside the project, a
missing one, a header other than ``activation<TAB>weight<TAB>bias``, no rows, empty cells,
weights or biases that are not finite decimal numbers, an activation the schema does not
know, text with path characters, and two rows with the same values (the same output file).

Every row, once its cells are read, is checked against the JSON schema of a row
(``schemas/sweep.schema.yaml``, draft 2020-12, :func:`row_schema`): the activation one of
the registry's (:data:`meanfield_resnet.activations.ACTIVATIONS`, filled into the schema's
enum when it is loaded), weight and bias finite numbers.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import numbers
import re
from pathlib import Path

import jsonschema
import pandas as pd

from .activations import ACTIVATIONS
from .settings import ConfigError, read_schema

KEY = "studies.sweep.table"
COLUMNS = ("activation", "weight", "bias")
NUMERIC = ("weight", "bias")
#: A decimal number as pandas reads it into a float column (no "inf", "nan", "1_000").
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: Text that would make a path of a file name: separators, parent directories, whitespace.
PATH_CHARACTERS = re.compile(r"[/\\]|\.\.|\s")


@functools.lru_cache(maxsize=1)
def _row_schema() -> dict:
    """The schema of a row, with the activations' enum filled in from their registry."""
    out = read_schema("schemas/sweep.schema.yaml")
    out["properties"]["activation"]["enum"] = list(ACTIVATIONS)
    return out


def row_schema() -> dict:
    """The JSON schema (draft 2020-12) of one row of the sweep table."""
    return copy.deepcopy(_row_schema())


def _is_finite_number(checker, instance) -> bool:
    return (
        isinstance(instance, numbers.Real)
        and not isinstance(instance, bool)
        and math.isfinite(instance)
    )


@functools.lru_cache(maxsize=1)
def _row_validator():
    """The row schema's validator; its "number" is a finite real number (a plain schema
    takes NaN and infinity for numbers, and comparisons with NaN pass every bound)."""
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("number", _is_finite_number)
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)(
        _row_schema()
    )


def activations() -> list[str]:
    """The activations a row may name (the row schema's enum: the activation registry)."""
    return list(_row_schema()["properties"]["activation"]["enum"])


def check_row(row: dict, where: str) -> None:
    """Raise :class:`ConfigError` if ``row`` ({column: value}) fails the row schema; the
    message starts with ``where`` (the table, row and line) and names the column."""
    error = jsonschema.exceptions.best_match(_row_validator().iter_errors(row))
    if error is None:
        return
    if not error.absolute_path:  # the row as a whole (a missing or an unknown column)
        raise ConfigError(f"{where}: {error.message}")
    expected = error.schema.get("description") if isinstance(error.schema, dict) else None
    hint = f" (expected: {expected})" if expected else ""
    raise ConfigError(f"{where}, column {error.absolute_path[0]}: {error.message}{hint}")


def _resolve(path, project_root) -> Path:
    root = Path(project_root).resolve()
    full = (root / Path(path)).resolve()
    if not full.is_relative_to(root):
        raise ConfigError(
            f"config key '{KEY}': {str(path)!r} resolves to {full}, outside the project "
            f"directory {root} (symbolic links followed)"
        )
    if not full.is_file():
        what = "is not a file" if full.exists() else "does not exist"
        raise ConfigError(f"config key '{KEY}': the sweep table {str(path)!r} ({full}) {what}")
    return full


def load_sweep_table(path, project_root) -> pd.DataFrame:
    """Read and check the sweep table at ``path`` (relative to ``project_root``, the
    directory the workflow runs in); return it as ``pd.read_csv(path, sep="\\t")`` does (the
    same dtypes, so the same file names), ready for ``snakemake.utils.Paramspace``.
    Raise :class:`ConfigError` naming the table, the row, the line and the column."""
    full = _resolve(path, project_root)
    try:
        text = full.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"sweep table {path} ({KEY}): not UTF-8 text ({err})") from None
    lines = text.splitlines()
    where = f"sweep table {path} ({KEY})"
    expected = "\t".join(COLUMNS)
    if not lines:
        raise ConfigError(f"{where}: empty file; expected the header {expected!r} and rows")
    header = lines[0].split("\t")
    if len(header) == 1 and ("," in lines[0] or ";" in lines[0]):
        raise ConfigError(
            f"{where}, line 1: not tab-separated (the header {lines[0]!r} has no tab); "
            f"expected the header {expected!r}"
        )
    if tuple(header) != COLUMNS:
        raise ConfigError(f"{where}, line 1: header {lines[0]!r}; expected exactly {expected!r}")
    rows: dict[tuple, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line == "":  # pandas skips blank lines too
            continue
        row = len(rows) + 1
        at = f"{where}, row {row} (line {number})"
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise ConfigError(
                f"{at}: {len(cells)} tab-separated cells {line!r}; expected {len(COLUMNS)} "
                f"({', '.join(COLUMNS)})"
            )
        values = []
        for column, cell in zip(COLUMNS, cells, strict=True):
            at_cell = f"{at}, column {column}"
            if cell == "":
                raise ConfigError(f"{at_cell}: empty cell")
            if PATH_CHARACTERS.search(cell):
                raise ConfigError(
                    f"{at_cell}: {cell!r} contains path characters ('/', '\\', '..' or "
                    "whitespace); the values become parts of file names"
                )
            if column == "activation":  # checked against the registry by the schema
                values.append(cell)
                continue
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"{at_cell}: {cell!r} is not a finite number")
            if value is None or not NUMBER.fullmatch(cell):
                raise ConfigError(f"{at_cell}: {cell!r} is not a decimal number")
            values.append(value)
        check_row(dict(zip(COLUMNS, values, strict=True)), at)
        point = tuple(values)
        if point in rows:
            same = ", ".join(f"{c}={v}" for c, v in zip(COLUMNS, point, strict=True))
            raise ConfigError(
                f"{at}: the same point ({same}) as row {rows[point]}; both would write the "
                "same files"
            )
        rows[point] = row
    if not rows:
        raise ConfigError(f"{where}: no rows (only the header); one job per row")
    table = pd.read_csv(io.StringIO(text), sep="\t")
    if len(table) != len(rows) or not all(pd.api.types.is_numeric_dtype(table[c]) for c in NUMERIC):
        raise ConfigError(f"{where}: read as {len(table)} rows with dtypes {dict(table.dtypes)}")
    return table
