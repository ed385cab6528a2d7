"""What scripts/check_deps.py reads from the machine and the code: the installed distributions
(which modules each one provides) and the absolute imports of the project's Python files.

Standard library only, like check_deps.py (see its docstring for the rules).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Mapping

IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


# --- installed distributions -------------------------------------------------------------


def _provided_modules(dist: metadata.Distribution) -> set[str]:
    """Dotted module and package names a distribution installs (every prefix)."""
    provided: set[str] = set()
    top_level = dist.read_text("top_level.txt") or ""
    provided.update(name.strip() for name in top_level.split() if name.strip())
    for file in dist.files or []:
        parts = PurePosixPath(str(file)).parts
        if not parts or parts[0] in ("..", "/") or parts[0].endswith((".dist-info", ".data")):
            continue
        if "__pycache__" in parts or any(not p.isidentifier() for p in parts[:-1]):
            continue
        stem = parts[-1].split(".", 1)[0]  # mod.py, mod.pyi, mod.cpython-310-x86_64.so
        if not parts[-1].endswith((".py", ".pyi", ".so", ".pyd")) or not stem.isidentifier():
            stem = ""
        dotted = list(parts[:-1]) + ([stem] if stem and stem != "__init__" else [])
        for end in range(1, len(dotted) + 1):
            provided.add(".".join(dotted[:end]))
    return provided


@lru_cache(maxsize=1)
def installed_index() -> dict[str, set[str]]:
    """Dotted module name -> names of the installed distributions that provide it."""
    index: dict[str, set[str]] = defaultdict(set)
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        for module in _provided_modules(dist):
            index[module].add(name)
    return index


def distributions_of(module: str, index: Mapping[str, set[str]]) -> set[str]:
    """The distributions providing the longest dotted prefix of `module` (empty if none)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = index.get(".".join(parts[:end]))
        if found:
            return set(found)
    return set()


# --- the project's imports ---------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One absolute import statement's module."""

    path: Path
    line: int
    module: str
    guarded: bool


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in IMPORT_ERRORS for n in names)


def _walk(node: ast.AST, guarded: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below `node`, with whether a try/except ImportError guards it."""
    for child in ast.iter_child_nodes(node):
        yield child, guarded
        if isinstance(child, ast.Try):
            body_guarded = guarded or any(_catches_import_error(h) for h in child.handlers)
            for stmt in child.body:
                yield stmt, body_guarded
                yield from _walk(stmt, body_guarded)
            for rest in [*child.handlers, *child.orelse, *child.finalbody]:
                yield rest, guarded
                yield from _walk(rest, guarded)
        else:
            yield from _walk(child, guarded)


def imports_of(path: Path) -> list[Import]:
    """The absolute imports of one Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node, guarded in _walk(tree, False):
        if isinstance(node, ast.Import):
            found.extend(Import(path, node.lineno, a.name, guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(path, node.lineno, node.module, guarded))
    return found


def python_files(root: Path, exclude: Iterable[str]) -> list[Path]:
    """The .py files under root, outside hidden and excluded directories."""
    skipped = set(exclude)
    files = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if any(part.startswith(".") or part in skipped for part in relative[:-1]):
            continue
        if relative[0] in skipped:
            continue
        files.append(path)
    return files


def _has_python(directory: Path) -> bool:
    return directory.is_dir() and any(directory.rglob("*.py"))


def is_local(module: str, path: Path, root: Path, import_paths: Iterable[str] = ()) -> bool:
    """A module of the project: at the root, beside the importing file or in an import path."""
    top = module.split(".", 1)[0]
    for base in (root, path.parent, *(root / p for p in import_paths)):
        if (base / f"{top}.py").is_file() or _has_python(base / top):
            return True
    return False
