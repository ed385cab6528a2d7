"""scripts/check_deps.py against small throwaway projects (its --root)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_deps.py"
_spec = importlib.util.spec_from_file_location("check_deps", SCRIPT)
assert _spec is not None and _spec.loader is not None
check_deps = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("check_deps", check_deps)  # dataclasses look their module up
_spec.loader.exec_module(check_deps)

SCOPES = """
[tool.check-deps]
runtime = ["app"]
dev = ["tests"]
"""


def make_project(root: Path, pyproject: str, files: dict[str, str]) -> Path:
    """A project at `root`: pyproject.toml (plus the scopes above) and the given files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject) + SCOPES, encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def run(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = check_deps.main(["--root", str(root)])
    return status, capsys.readouterr().out


def test_undeclared_import_fails_naming_the_distribution(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = []
        """,
        {"app/main.py": "import json\n\nimport yaml\n"},
    )
    status, out = run(root, capsys)
    assert status == 1
    assert "app/main.py:3: 'yaml' comes from PyYAML" in out
    assert "add PyYAML to [project] dependencies" in out


def test_declared_but_unused_fails(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = ["PyYAML>=6.0"]
        """,
        {"app/main.py": "import json\n"},
    )
    status, out = run(root, capsys)
    assert status == 1
    assert "pyproject.toml:4: PyYAML is declared in [project] dependencies" in out
    assert "nothing imports it" in out


def test_all_declared_and_used_passes(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        # Any spelling of the name: PEP 503 normalised.
        dependencies = ["pyyaml>=6.0"]

        [project.optional-dependencies]
        dev = ["PyTest"]
        """,
        {
            "app/__init__.py": "",
            "app/main.py": "import yaml\n\nfrom app import helpers\nfrom . import other\n",
            "app/helpers.py": "",
            "tests/conftest.py": "import pytest\nimport helper_module\n",
            "tests/helper_module.py": "import app.main\n",
            ".venv/lib/ignored.py": "import not_a_module\n",
        },
    )
    status, out = run(root, capsys)
    assert status == 0, out
    assert out.startswith("check_deps: OK")


def test_dev_extra_is_for_dev_code_only(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = []

        [project.optional-dependencies]
        dev = ["pytest"]
        """,
        {"app/main.py": "import pytest\n", "tests/test_x.py": "import pytest\n"},
    )
    status, out = run(root, capsys)
    assert status == 1
    assert out.splitlines()[0] == (
        "app/main.py:1: 'pytest' comes from pytest, declared only in the dev extra; "
        "runtime code needs it in [project] dependencies"
    )
    assert "tests/test_x.py" not in out


def test_runtime_dependency_only_tests_import_belongs_in_dev(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = ["pytest"]
        """,
        {"app/main.py": "", "tests/test_x.py": "import pytest\n"},
    )
    status, out = run(root, capsys)
    assert status == 1
    assert "tests/test_x.py:1: pytest is in [project] dependencies but only dev code" in out


def test_optional_backend_needs_an_import_error_guard(tmp_path, capsys) -> None:
    pyproject = """
        [project]
        name = "demo"
        dependencies = []

        [project.optional-dependencies]
        fancy = ["fancy-backend==1.0"]
        """
    guarded = """
        def load():
            try:
                from fancy_backend import Model
            except ImportError as exc:
                raise ImportError("pip install '.[fancy]'") from exc
            return Model
        """
    root = make_project(tmp_path / "guarded", pyproject, {"app/main.py": guarded})
    status, out = run(root, capsys)
    assert status == 0, out

    unguarded = "from fancy_backend import Model\n"
    root = make_project(tmp_path / "unguarded", pyproject, {"app/main.py": unguarded})
    status, out = run(root, capsys)
    assert status == 1
    assert "app/main.py:1: 'fancy_backend' comes from fancy-backend, declared only in " in out
    assert "the fancy extra" in out


def test_unused_ok_needs_a_reason_and_goes_stale(tmp_path, capsys) -> None:
    pyproject = """
        [project]
        name = "demo"
        dependencies = ["PyYAML", "psycopg2-binary"]

        [tool.check-deps.unused-ok]
        psycopg2_binary = "{reason}"
        """
    files = {"app/main.py": "import yaml\n"}
    reason = "Postgres driver SQLAlchemy loads from the database URL"
    root = make_project(tmp_path / "ok", pyproject.format(reason=reason), files)
    status, out = run(root, capsys)
    assert status == 0, out

    root = make_project(tmp_path / "blank", pyproject.format(reason=" "), files)
    status, out = run(root, capsys)
    assert status == 1
    assert "unused-ok entry 'psycopg2-binary' needs a reason" in out

    files = {"app/main.py": "import yaml\nimport psycopg2\n"}
    root = make_project(tmp_path / "stale", pyproject.format(reason=reason), files)
    status, out = run(root, capsys)
    assert status == 1
    assert "unused-ok entry 'psycopg2-binary' is imported (app/main.py:2)" in out


def test_declared_dependencies_are_pinned(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = ["PyYAML==6.0.3", "pytest"]
        """,
        {
            "app/main.py": "import yaml\nimport pytest\n",
            "requirements.txt": "pyyaml==6.0.2\n",
            "constraints.txt": "PyYAML==6.0.3\npytest==8.4.2\n",
        },
    )
    status, out = run(root, capsys)
    assert status == 1
    assert "PyYAML==6.0.3 ([project] dependencies) but requirements.txt pins PyYAML==6.0.2" in out
    assert "pytest ([project] dependencies) has no '==' pin in requirements.txt" in out
    assert "constraints.txt" not in out


def test_files_outside_every_scope_fail(tmp_path, capsys) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = []
        """,
        {"app/main.py": "", "tools/stray.py": "import yaml\n"},
    )
    status, out = run(root, capsys)
    assert status == 1
    assert out.splitlines()[0].startswith("tools/stray.py: in no [tool.check-deps] scope")


def test_command_line(tmp_path) -> None:
    root = make_project(
        tmp_path,
        """
        [project]
        name = "demo"
        dependencies = []
        """,
        {"app/main.py": "import yaml\n"},
    )
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "app/main.py:1: 'yaml' comes from PyYAML, which pyproject.toml does not declare; "
        "add PyYAML to [project] dependencies",
        "check_deps: 1 problem(s)",
    ]
