"""Every third-party import is a declared direct dependency, and every declared one is imported.

Usage: `python scripts/check_deps.py [--root DIR]` (run by `make lint`). Exit 0 prints one OK
line; exit 1 prints one line per problem (`file:line: ...`, naming the distribution to add or
remove). Standard library only (tomli stands in for tomllib on Python 3.10), so it runs with
nothing but the project's own pins installed. Why not deptry: from 0.21 it needs
packaging>=23.2 while Rasa 3.6 needs packaging<21 (pinned 20.9); the last release that still
resolves, 0.20.0, would be frozen there, and it applies one rule set to every scanned file (tests
are left out by default) without checking that the dev dependencies are used.

The code: this file reads pyproject.toml, runs the check and the command line;
scripts/deps_scan.py finds the installed distributions and the project's imports;
scripts/deps_rules.py holds the rules below. Only this file imports tomli (pyproject.toml scopes
it as dev code), so the other two are runtime code with nothing but the standard library.

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
import sys
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Iterable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

if __name__ == "__main__":  # `python scripts/check_deps.py`: the repository root, for `scripts.*`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.deps_rules import (  # noqa: E402
    DEPENDENCIES,
    Config,
    Declared,
    declaration_problems,
    import_problem,
    normalise,
    requirement_name,
    scope_of,
)
from scripts.deps_scan import (  # noqa: E402
    Import,
    distributions_of,
    imports_of,
    installed_index,
    is_local,
    python_files,
)

DEFAULT_RUNTIME = ["actions", "components", "connectors", "helpdesk", "scripts"]
DEFAULT_DEV = ["tests"]
DEFAULT_EXCLUDE = [".venv", "venv", "var", "models", "build", "dist", "node_modules"]
# Standard-library modules of newer Pythons, imported under a version guard.
NEWER_STDLIB = {"tomllib"}


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


def _where(imp: Import, root: Path) -> str:
    return f"{imp.path.relative_to(root).as_posix()}:{imp.line}"


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
            problem = import_problem(imp, scope, dists, declared, config)
            key = (path, ", ".join(sorted(dists)))
            if problem and key not in reported:
                reported.add(key)
                problems.append(f"{_where(imp, root)}: {problem}")

    problems.extend(declaration_problems(root, config, used_by, first_use))
    summary = (
        f"check_deps: OK - {len(files)} files, {import_count} third-party imports, "
        f"{len(config.declared)} declared distributions, all declared and all used"
    )
    return problems, summary


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
