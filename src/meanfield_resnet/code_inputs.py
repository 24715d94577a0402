"""The package files a workflow script runs: every module it imports, transitively, and the
package data those modules read. The workflow declares them as inputs, so that an edited
module reruns exactly the jobs whose scripts import it.

The imports are read with `ast`, never executed: `import meanfield_resnet.x`,
`from meanfield_resnet import x`, `from meanfield_resnet.x import y` and, inside the package,
relative imports (`from . import a`, `from .a import f`), wherever they stand (imports inside
function bodies count). Importing any module of the package runs the package's `__init__.py`,
so it is always among the files. A string constant of a module that names an existing
non-Python file relative to that module's package (`"schemas/config.schema.yaml"`, read
through `importlib.resources`) counts as package data the module reads.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(dotted: str, package_dir: Path) -> Path | None:
    """The file of the package module `dotted` (`pkg.a.b`), or None outside the package or
    for a name that is no module (an attribute)."""
    parts = dotted.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if len(parts) > 1 and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _with_parents(dotted: str, package_dir: Path) -> list[Path]:
    """The files Python runs to import `dotted`: each enclosing package's `__init__.py`,
    then the module itself."""
    parts = dotted.split(".")
    files = (_module_file(".".join(parts[:n]), package_dir) for n in range(1, len(parts) + 1))
    return [f for f in files if f is not None]


def _dotted_name(path: Path, package_dir: Path) -> str | None:
    """The module name of a file inside the package (`pkg.a` for pkg/a.py), else None."""
    try:
        rel = path.relative_to(package_dir)
    except ValueError:
        return None
    parts = [package_dir.name, *rel.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(tree: ast.AST, module: str | None, is_package: bool) -> set[str]:
    """Dotted names of everything a module's imports may load: modules, and for
    `from m import n` both `m` and `m.n` (n may be a submodule). Relative imports resolve
    against `module`, the importing module's own name (None for a script)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue  # a relative import outside the package
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _data_files(tree: ast.AST, directory: Path) -> set[Path]:
    """Non-Python files in `directory` (or below) named by a string constant of the tree."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        text = node.value
        if not text or len(text) > 200 or "\n" in text or text.startswith(("/", ".")):
            continue
        candidate = directory / text
        try:
            if candidate.is_file() and candidate.suffix != ".py":
                found.add(candidate.resolve())
        except OSError:
            continue
    return found


@cache
def _scan(path: Path, mtime_ns: int, package_dir: Path) -> tuple[frozenset, frozenset]:
    """The package files one file imports directly, and the data files it names; parsed once
    per version of the file (several scripts share most modules)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _dotted_name(path, package_dir)
    data = _data_files(tree, path.parent) if module is not None else set()
    names = _imported_names(tree, module, path.name == "__init__.py")
    return frozenset(f for name in names for f in _with_parents(name, package_dir)), frozenset(data)


def package_files(script: str | Path, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Sorted files of the package that `script` imports (transitively) or that those
    modules read; the script itself is not among them."""
    package_dir = Path(package_dir).resolve()
    seen: set[Path] = set()
    data: set[Path] = set()
    queue = [Path(script).resolve()]
    while queue:
        path = queue.pop()
        imported, named = _scan(path, path.stat().st_mtime_ns, package_dir)
        data |= named
        queue.extend(imported - seen)
        seen |= imported
    return sorted(seen | data)
