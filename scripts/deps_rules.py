"""The rules of scripts/check_deps.py (its docstring states them): the declared distributions
and the scopes, which import a scope may use, and what each declaration needs (a `==` pin, an
import, a reason when it is allowed unused).

Standard library only, like check_deps.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping

from scripts.deps_scan import Import

RUNTIME = "runtime"
DEV = "dev"
DEPENDENCIES = "[project] dependencies"
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


def _group_label(group: str) -> str:
    return group if group == DEPENDENCIES else f"the {group} extra"


def import_problem(
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


def declaration_problems(
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
