"""Every third-party import is a declared direct dependency, and every declared one is imported.

Usage: `python scripts/check_deps.py [--root DIR]` (run by `make lint`). Exit 0 prints one OK
line; exit 1 prints one line per problem (`file:line: ...`, naming the distribution to add or
remove). Standard library only (tomli stands in for tomllib on Python 3.10), so it runs with
nothing but the project's own pins installed. Why not deptry: from 0.21 it needs
packaging>=23.2 while Rasa 3.6 needs packaging<21 (pinned 20.9); the last release that still
resolves, 0.20.0, would be frozen there, and it applies one rule set to every scanned file (tests
are left out by default) without checking that the dev dependencies are used.

The rules
---------
Scopes. `[tool.check-deps]` in pyproject.toml names two lists of paths (directories or files,
relative to the root); a file belongs to the scope whose matching path is the longest, so
`dev = ["scripts/check_deps.py"]` beats `runtime = ["scripts"]`. Every .py file under the root
(outside `exclude`) must be in a scope.

- runtime (the assistant, its action server, connectors, the helpdesk package and the scripts
  that run or measure it) may import `[project] dependencies`. It may also import an optional
  extra other than `dev` (an optional backend, e.g. sentence-transformers in `st`), but only
  inside a `try:` whose handler catches ImportError or ModuleNotFoundError, so that the code
  still runs without the extra.
- dev (tests and lint tooling) may import `[project] dependencies` and every extra, `dev` (the
  test and lint tools) included.

Imports. Every `import x` / `from x import y` counts, wherever it is (module level, inside a
function, under `if TYPE_CHECKING:`). Relative imports, the standard library
(`sys.stdlib_module_names`) and local modules are skipped. Local means: a package or module at the
root (`helpdesk`, `actions`, `tests`, `scripts`, ...), a sibling of the importing file (a test
directory's `conftest`), or a module of a directory listed in `import-paths` (directories the code
puts on sys.path itself). Dynamic imports (`importlib`, entry points, plugin strings) are not
seen: declare those distributions and allow-list them.

Distributions. An import's module is mapped to the installed distribution(s) that provide it,
from each distribution's `top_level.txt` and RECORD (the longest dotted prefix wins, so
`google.protobuf` is protobuf, not google-auth). A module no installed distribution provides
(an optional backend not installed here) maps to `[tool.check-deps.modules]`, else to the
declared distribution with the same name (`sentence_transformers` -> sentence-transformers).
Names compare normalised (PEP 503: case-insensitive, `-`, `_` and `.` equal).

Problems reported:
- an import whose distribution is not declared, or declared in a group its scope may not use;
- a declared distribution nothing imports, unless `[tool.check-deps.unused-ok]` names it with a
  reason (a DB driver loaded by URL, a pytest plugin, a command-line tool, type stubs, ...);
- a `[project] dependencies` entry only dev code imports (it belongs in the dev extra);
- an allow-list entry that is stale (not declared, or imported after all) or has no reason;
- a declared distribution without an `==` pin in its requirements file (`requirements.txt` for
  `[project] dependencies`, `requirements-<extra>.txt` for an extra, following `-r`) or in
  `constraints.txt`, or pinned at another version than pyproject's `==`; files that do not
  exist are skipped.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

RUNTIME = "runtime"
DEV = "dev"
DEPENDENCIES = "[project] dependencies"
DEFAULT_RUNTIME = ["actions", "components", "connectors", "helpdesk", "scripts"]
DEFAULT_DEV = ["tests"]
DEFAULT_EXCLUDE = [".venv", "venv", "var", "models", "build", "dist", "node_modules"]
# Standard-library modules of newer Pythons, imported under a version guard.
NEWER_STDLIB = {"tomllib"}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement string."""
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return match.group(1)


def exact_pin(requirement: str) -> str | None:
    """The version of a `name==version` requirement, else None."""
    match = _PIN.match(requirement)
    return match.group(2) if match else None


@dataclass
class Declared:
    """One declared distribution: where it is declared and how."""

    name: str
    groups: list[str] = field(default_factory=list)  # DEPENDENCIES and/or extra names
    requirements: dict[str, str] = field(default_factory=dict)  # group -> requirement string


@dataclass
class Config:
    """pyproject.toml, read."""

    path: Path
    text: str
    declared: dict[str, Declared]
    extras: list[str]
    dev_extra: str
    runtime: list[str]
    dev: list[str]
    exclude: list[str]
    import_paths: list[str]
    unused_ok: dict[str, str]
    modules: dict[str, str]

    def line_of(self, needle: str) -> int:
        """1-based line of the first line containing `needle` (0 if none)."""
        for number, line in enumerate(self.text.splitlines(), start=1):
            if needle in line:
                return number
        return 0


def load_config(root: Path) -> Config:
    """Read the declared dependencies and the [tool.check-deps] settings."""
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    project = data.get("project", {})
    settings = data.get("tool", {}).get("check-deps", {})
    declared: dict[str, Declared] = {}

    def add(group: str, requirements: Iterable[str]) -> None:
        for requirement in requirements:
            name = requirement_name(requirement)
            entry = declared.setdefault(normalise(name), Declared(name))
            entry.groups.append(group)
            entry.requirements[group] = requirement

    add(DEPENDENCIES, project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra, requirements in optional.items():
        add(extra, requirements)
    return Config(
        path=path,
        text=text,
        declared=declared,
        extras=list(optional),
        dev_extra=settings.get("dev-extra", "dev"),
        runtime=list(settings.get("runtime", DEFAULT_RUNTIME)),
        dev=list(settings.get("dev", DEFAULT_DEV)),
        exclude=list(settings.get("exclude", DEFAULT_EXCLUDE)),
        import_paths=list(settings.get("import-paths", [])),
        unused_ok={normalise(k): str(v) for k, v in settings.get("unused-ok", {}).items()},
        modules={k: str(v) for k, v in settings.get("modules", {}).items()},
    )


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


def scope_of(relative: PurePosixPath, config: Config) -> str | None:
    """RUNTIME, DEV or None: the scope whose listed path matches `relative` most specifically."""
    best: tuple[int, str] | None = None
    for scope, paths in ((RUNTIME, config.runtime), (DEV, config.dev)):
        for entry in paths:
            prefix = PurePosixPath(entry.strip("/"))
            matches = relative == prefix or prefix in relative.parents
            if matches and (best is None or len(prefix.parts) > best[0]):
                best = (len(prefix.parts), scope)
    return best[1] if best else None


def _has_python(directory: Path) -> bool:
    return directory.is_dir() and any(directory.rglob("*.py"))


def is_local(module: str, path: Path, root: Path, import_paths: Iterable[str] = ()) -> bool:
    """A module of the project: at the root, beside the importing file or in an import path."""
    top = module.split(".", 1)[0]
    for base in (root, path.parent, *(root / p for p in import_paths)):
        if (base / f"{top}.py").is_file() or _has_python(base / top):
            return True
    return False


# --- the check ---------------------------------------------------------------------------


def _pins(path: Path, seen: set[Path] | None = None) -> dict[str, str]:
    """Normalised name -> pinned version of a requirements file, following `-r` includes."""
    seen = set() if seen is None else seen
    if path in seen or not path.is_file():
        return {}
    seen.add(path)
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins.update(_pins(path.parent / line.split(None, 1)[1], seen))
            continue
        match = _PIN.match(line)
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def _where(imp: Import, root: Path) -> str:
    return f"{imp.path.relative_to(root).as_posix()}:{imp.line}"


def _group_label(group: str) -> str:
    return group if group == DEPENDENCIES else f"the {group} extra"


def check(root: Path) -> tuple[list[str], str]:
    """(problems, summary) for the project at `root`."""
    root = root.resolve()
    config = load_config(root)
    index = installed_index()
    stdlib = set(sys.stdlib_module_names) | NEWER_STDLIB
    problems: list[str] = []
    used_by: dict[str, set[str]] = defaultdict(set)  # normalised dist -> scopes importing it
    first_use: dict[str, str] = {}
    reported: set[tuple[Path, str]] = set()
    files = python_files(root, config.exclude)
    import_count = 0

    for path in files:
        relative = PurePosixPath(path.relative_to(root).as_posix())
        scope = scope_of(relative, config)
        if scope is None:
            problems.append(
                f"{relative}: in no [tool.check-deps] scope; add it (or its directory) to "
                "`runtime` or `dev` in pyproject.toml"
            )
            continue
        try:
            imports = imports_of(path)
        except SyntaxError as exc:
            problems.append(f"{relative}:{exc.lineno}: cannot parse ({exc.msg})")
            continue
        for imp in imports:
            top = imp.module.split(".", 1)[0]
            if top in stdlib or is_local(imp.module, path, root, config.import_paths):
                continue
            import_count += 1
            dists = distributions_of(imp.module, index)
            if not dists and top in config.modules:
                dists = {config.modules[top]}
            if not dists and normalise(top) in config.declared:
                dists = {config.declared[normalise(top)].name}
            if not dists:
                problems.append(
                    f"{_where(imp, root)}: no installed distribution provides '{imp.module}'; "
                    "install it, or map it in [tool.check-deps.modules]"
                )
                continue
            declared = [config.declared[n] for n in map(normalise, dists) if n in config.declared]
            for entry in declared:
                used_by[normalise(entry.name)].add(scope)
                first_use.setdefault(normalise(entry.name), _where(imp, root))
            problem = _import_problem(imp, scope, dists, declared, config)
            key = (path, ", ".join(sorted(dists)))
            if problem and key not in reported:
                reported.add(key)
                problems.append(f"{_where(imp, root)}: {problem}")

    problems.extend(_declaration_problems(root, config, used_by, first_use))
    summary = (
        f"check_deps: OK - {len(files)} files, {import_count} third-party imports, "
        f"{len(config.declared)} declared distributions, all declared and all used"
    )
    return problems, summary


def _import_problem(
    imp: Import, scope: str, dists: set[str], declared: list[Declared], config: Config
) -> str | None:
    """Why this import is not allowed in its scope, or None."""
    names = " or ".join(sorted(dists))
    if not declared:
        where = (
            DEPENDENCIES if scope == RUNTIME else f"{DEPENDENCIES} or the {config.dev_extra} extra"
        )
        return (
            f"'{imp.module}' comes from {names}, which pyproject.toml does not declare; "
            f"add {names} to {where}"
        )
    groups = {g for entry in declared for g in entry.groups}
    if scope == DEV or DEPENDENCIES in groups:
        return None
    backends = groups - {config.dev_extra}
    if backends and imp.guarded:
        return None
    declared_in = ", ".join(_group_label(g) for g in sorted(groups))
    if backends:
        return (
            f"'{imp.module}' comes from {names}, declared only in {declared_in}; runtime code "
            f"imports an optional extra inside try/except ImportError, else add {names} to "
            f"{DEPENDENCIES}"
        )
    return (
        f"'{imp.module}' comes from {names}, declared only in {declared_in}; runtime code "
        f"needs it in {DEPENDENCIES}"
    )


def _declaration_problems(
    root: Path, config: Config, used_by: Mapping[str, set[str]], first_use: Mapping[str, str]
) -> list[str]:
    problems: list[str] = []
    pyproject = config.path.relative_to(root).as_posix()
    runtime_pins = _pins(root / "requirements.txt")
    constraints = _pins(root / "constraints.txt")
    have_constraints = (root / "constraints.txt").is_file()

    for key, entry in sorted(config.declared.items()):
        for group in entry.groups:
            requirement = entry.requirements[group]
            line = config.line_of(f'"{requirement}"')
            where = f"{pyproject}:{line}" if line else pyproject
            label = _group_label(group)
            if group == DEPENDENCIES:
                pin_file = root / "requirements.txt"
                pins = runtime_pins
            else:
                pin_file = root / f"requirements-{group}.txt"
                pins = _pins(pin_file)
            wanted = exact_pin(requirement)
            for file, file_pins, present in (
                (pin_file.name, pins, pin_file.is_file()),
                ("constraints.txt", constraints, have_constraints),
            ):
                if not present:
                    continue
                if key not in file_pins:
                    problems.append(
                        f"{where}: {entry.name} ({label}) has no '==' pin in {file}; "
                        "add the installed version"
                    )
                elif wanted and file_pins[key] != wanted:
                    problems.append(
                        f"{where}: {requirement} ({label}) but {file} pins "
                        f"{entry.name}=={file_pins[key]}"
                    )
        scopes = used_by.get(key, set())
        if key in config.unused_ok:
            continue
        if not scopes:
            line = config.line_of(f'"{entry.requirements[entry.groups[0]]}"')
            where = f"{pyproject}:{line}" if line else pyproject
            labels = ", ".join(_group_label(g) for g in entry.groups)
            problems.append(
                f"{where}: {entry.name} is declared in {labels} but nothing imports it; remove "
                "it, or add it to [tool.check-deps.unused-ok] with the reason"
            )
        elif DEPENDENCIES in entry.groups and scopes == {DEV}:
            problems.append(
                f"{first_use[key]}: {entry.name} is in {DEPENDENCIES} but only dev code "
                f"imports it; move it to the {config.dev_extra} extra"
            )

    line = config.line_of("[tool.check-deps.unused-ok]")
    where = f"{pyproject}:{line}" if line else pyproject
    for key, reason in sorted(config.unused_ok.items()):
        if key not in config.declared:
            problems.append(
                f"{where}: unused-ok entry '{key}' is not a declared dependency; remove the entry"
            )
        elif key in used_by:
            problems.append(
                f"{where}: unused-ok entry '{key}' is imported ({first_use[key]}); remove the entry"
            )
        elif not reason.strip():
            problems.append(f"{where}: unused-ok entry '{key}' needs a reason")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the check; 0 when every import is declared and every declaration used."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="project directory holding pyproject.toml (default: this repository)",
    )
    args = parser.parse_args(argv)
    problems, summary = check(args.root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_deps: {len(problems)} problem(s)")
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
