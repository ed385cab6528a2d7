"""The Dockerfile builds what `make run` builds (the pinned runtime, the model, the FAQ index)
with the Makefile's own commands, runs as a user without rights, bakes no secret in, and has
every program deploy/compose.yml runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scripts.compose_plan import IMAGE_BIN, IMAGE_ROOT
from scripts.run_plan import ROOT

SECRET_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|API_KEY", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's instructions as (keyword, arguments), continuation lines joined,
    comments dropped, whitespace collapsed."""
    found: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).partition(" ")
        found.append((keyword.upper(), " ".join(rest.split())))
        current = ""
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The build stages, each from its FROM."""
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, rest))
    return out


def make_variables(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)\s*:=\s*(.*?)\s*$", text, flags=re.M))


def expand(value: str, variables: dict[str, str]) -> str:
    while match := re.search(r"\$\(([A-Z_]+)\)", value):
        value = value.replace(match.group(0), variables[match.group(1)])
    return value


def recipe(target: str) -> list[str]:
    """The Makefile's recipe of `target`, its variables expanded, `@` prefixes dropped."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = make_variables(text)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(" ".join(expand(line.strip().lstrip("@"), variables).split()))
    return body


def dockerignore() -> set[str]:
    """The patterns of .dockerignore."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _runs(stage: list[tuple[str, str]]) -> str:
    return "\n".join(rest for keyword, rest in stage if keyword == "RUN")


def test_the_image_trains_and_indexes_with_the_makefiles_own_commands(dockerfile):
    build = _runs(stages(dockerfile)[0])
    (train,) = recipe("$(MODEL_STAMP)")[:1]
    (index,) = recipe("index")
    assert train.startswith(".venv/bin/rasa train ") and train in build
    assert index == ".venv/bin/helpdesk kb build" and index in build


def test_the_image_installs_the_pinned_runtime_as_make_venv_does(dockerfile):
    build = _runs(stages(dockerfile)[0])
    venv = recipe("$(STAMP)")
    pip_pin = re.search(r'"pip==[\d.]+"', venv[1])
    assert pip_pin and pip_pin.group(0) in build
    assert "-r requirements.txt -c constraints.txt" in build  # the pins, not the dev tools
    assert "requirements-dev" not in dockerfile
    editable = venv[3].split("pip install", 1)[1]  # --quiet --no-deps --no-build-isolation -e .
    assert editable in build


def test_one_python_3_10_slim_base_and_a_final_user_without_rights(dockerfile):
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.10-slim$", dockerfile, flags=re.M)
    all_stages = stages(dockerfile)
    assert len(all_stages) == 2
    assert all(stage[0][1].split()[0] == "${PYTHON_IMAGE}" for stage in all_stages)
    runtime = all_stages[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("WORKDIR", IMAGE_ROOT) in runtime and ("WORKDIR", IMAGE_ROOT) in all_stages[0]
    assert "python -m venv .venv" in _runs(all_stages[0])  # IMAGE_BIN: /app/.venv/bin
    assert f"{IMAGE_ROOT}/.venv/bin" == IMAGE_BIN
    assert ("COPY", f"--from=build {IMAGE_ROOT} {IMAGE_ROOT}") in runtime


def test_no_secret_is_baked_into_the_image(dockerfile):
    for keyword, rest in instructions(dockerfile):
        if keyword in {"ENV", "ARG"}:
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or [rest.split("=")[0]]
            assert not [name for name in names if SECRET_NAME.search(name)], rest
    assert "**/.env" in dockerignore()  # the repository's .env and deploy/.env hold the secrets


def test_the_build_context_leaves_out_environments_data_and_caches():
    ignored = dockerignore()
    assert {".git", ".venv", "var", "models", "**/__pycache__"} <= ignored
    assert {".pytest_cache", ".mypy_cache", ".ruff_cache", ".rasa"} <= ignored


def test_every_program_the_compose_file_runs_is_in_the_image():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text(encoding="utf-8"))
    ignored = dockerignore()
    for name, service in compose["services"].items():
        if not service["image"].startswith("${HELPDESK_IMAGE"):
            continue
        program, *args = service["command"]
        assert program.startswith(IMAGE_BIN + "/"), name
        assert program.rsplit("/", 1)[1] in {"python", "rasa", "helpdesk"}, name
        for arg in args:
            if arg.startswith(IMAGE_ROOT + "/") and not arg.startswith(IMAGE_BIN):
                here = Path(arg.replace(IMAGE_ROOT, str(ROOT), 1))
                if here == ROOT / "models":  # trained in the image
                    continue
                assert here.exists(), arg
                assert here.relative_to(ROOT).parts[0] not in ignored, arg
