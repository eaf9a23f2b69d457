"""Which source files a stage runs: the static import closure of ``starssl.commands.<stage>``.

Stages depend on the code they run, so editing ``eval/linear.py`` reruns the linear stages (and
what reads their results) and nothing else. Imports are found with :mod:`ast`, including the
lazy ones inside functions; package ``__init__`` files count (Python runs them), and so do data
files shipped inside an imported package (e.g. ``data/splits/*.json``). A few modules that only
shape messages or dispatch commands are left out on purpose, so a reworded error does not
retrain anything.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import starssl

ROOT_PACKAGE = "starssl"
# Modules that cannot change a result: the top-level version string, CLI dispatch, messages.
NOT_RESULT_CODE = frozenset({"starssl", "starssl.__main__", "starssl.cli", "starssl.errors"})
_SKIP_SUFFIXES = (".py", ".pyc", ".pyo")


@cache
def package_dir() -> Path:
    return Path(starssl.__file__).resolve().parent


@cache
def module_file(name: str) -> Path | None:
    """The file of module ``starssl.x.y`` (a ``.py`` or a package ``__init__.py``), if any."""
    parts = name.split(".")
    if parts[0] != ROOT_PACKAGE:
        return None
    base = package_dir().joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# Import statements found by their text, so that only they are parsed, not whole modules: both
# engines list the code deps on every start (`snakemake -n`), and this is 10x faster. Indented
# ones (lazy imports inside functions) count; a match inside a string only adds a dependency.
_IMPORT_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)",
    re.MULTILINE,
)


def _import_nodes(source: str, filename: str) -> list[ast.stmt]:
    nodes: list[ast.stmt] = []
    for match in _IMPORT_STATEMENT.finditer(source):
        try:
            nodes.extend(ast.parse(match.group(0).strip()).body)
        except SyntaxError:  # e.g. a backslash continuation: parse the whole module instead
            return _all_import_nodes(source, filename)
    return nodes


def _all_import_nodes(source: str, filename: str) -> list[ast.stmt]:
    """The reference: every import statement of the module's syntax tree."""
    tree = ast.parse(source, filename=filename)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


@cache  # each file is parsed once however many stages' closures reach it
def _imported_names(file: Path, module: str, *, full_parse: bool = False) -> frozenset[str]:
    """Every ``starssl`` module that ``file`` (the module ``module``) may import."""
    source = file.read_text(encoding="utf-8")
    find = _all_import_nodes if full_parse else _import_nodes
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in find(source, str(file)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            # `from pkg import name` may name a submodule.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(n for n in names if n.split(".")[0] == ROOT_PACKAGE)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@cache
def import_closure(module: str) -> tuple[str, ...]:
    """Sorted names of the ``starssl`` modules ``module`` runs, itself included."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in _with_parents(todo.pop()):
            if name in seen or module_file(name) is None:
                continue
            seen.add(name)
            todo.extend(_imported_names(module_file(name), name))
    return tuple(sorted(seen))


def _package_data(package: Path) -> list[Path]:
    """Non-Python files of a package, including its non-package sub-folders."""
    found = []
    for path in sorted(package.rglob("*")):
        if not path.is_file() or path.suffix in _SKIP_SUFFIXES or "__pycache__" in path.parts:
            continue
        owner = path.parent
        # A sub-folder with its own __init__.py is another package, analysed on its own.
        while owner != package and not (owner / "__init__.py").is_file():
            owner = owner.parent
        if owner == package:
            found.append(path)
    return found


@cache
def code_files(stage: str) -> tuple[Path, ...]:
    """Absolute paths of the source and data files that ``starssl <stage>`` runs."""
    command = f"{ROOT_PACKAGE}.commands.{stage}"
    modules = [m for m in import_closure(command) if m not in NOT_RESULT_CODE]
    files: set[Path] = set()
    for name in modules:
        file = module_file(name)
        assert file is not None
        files.add(file)
        if file.name == "__init__.py":
            files.update(_package_data(file.parent))
    if module_file(command) is None:  # not written yet: depend on where it will be
        files.add(package_dir() / "commands" / f"{stage}.py")
    return tuple(sorted(files))


def code_deps(stage: str, repo_root: str | os.PathLike[str] = ".") -> list[str]:
    """``code_files(stage)`` relative to ``repo_root`` (POSIX); empty if the package lives
    outside it (an installed, non-editable package cannot change under the pipeline)."""
    root = Path(repo_root).resolve()
    if not package_dir().is_relative_to(root):
        return []
    return [f.relative_to(root).as_posix() for f in code_files(stage)]
