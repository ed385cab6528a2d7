"""`make compose`: the cluster in containers, made from the plan `make run-cluster` runs.

The checked-in deploy/ must be what the plan generates today, every server of the plan must be a
container running the same command with the same environment, nginx's upstreams must be the
containers' names, and a Compose client must accept the file (`config`, offline).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from scripts.cluster_plan import (
    CLUSTER_PORT_OFFSET,
    cluster_plan,
    main,
    nginx_config,
    process_environment,
)
from scripts.compose_plan import (
    ANY_HOST,
    CONFIG_DIR,
    SECRETS,
    compose_bundle,
    compose_file,
    container_environment,
    in_image,
)
from scripts.run_plan import ROOT, build_environment, write_endpoints

DEPLOY = ROOT / "deploy"
ENGINES = {"postgres", "redis"}
#: Values for every secret of .env.example, as an operator would write them.
TEST_SECRETS = {name: f"{name.lower().replace('_', '')}0123" for name in SECRETS}


@pytest.fixture(scope="module")
def bundle() -> dict[str, str]:
    return compose_bundle()


@pytest.fixture(scope="module")
def compose(bundle: dict[str, str]) -> dict[str, Any]:
    return yaml.safe_load(bundle["compose.yml"])


def _servers(compose: dict[str, Any]) -> dict[str, Any]:
    """The assistant's containers, in the file's order."""
    return {
        name: service
        for name, service in compose["services"].items()
        if name not in ENGINES | {"nginx"}
    }


@pytest.fixture
def cluster(tmp_path: Path) -> SimpleNamespace:
    """`make run-cluster`'s environment, files and services, on engines it is given."""
    env = build_environment({"HELPDESK_VAR_DIR": str(tmp_path)}, dotenv=False)
    env.update(
        HELPDESK_DATABASE_URL="postgresql://u:p@db/helpdesk",
        RASA_TRACKER_STORE_URL="postgresql://u:p@db/rasa",
        HELPDESK_REDIS_URL="redis://:p@cache:6379/0",
        SANIC_PROXIES_COUNT="1",
    )
    credentials = tmp_path / "credentials.yml"
    endpoints = write_endpoints(env, tmp_path)
    services = cluster_plan(env, credentials, endpoints, nginx_dir=tmp_path)
    servers = [service for service in services if service.name != "nginx"]
    return SimpleNamespace(env=env, servers=servers, credentials=credentials, endpoints=endpoints)


# --------------------------------------------------------------------------- in step


def test_the_checked_in_deploy_folder_is_what_the_plan_generates(bundle):
    for name, text in bundle.items():
        path = DEPLOY / name
        assert path.is_file(), f"deploy/{name} is missing: run `make compose` and commit deploy/"
        assert path.read_text(encoding="utf-8") == text, (
            f"deploy/{name} no longer matches the plan `make run-cluster` runs: run "
            "`make compose` and commit deploy/"
        )


def test_every_server_of_the_cluster_is_a_container_running_the_same_command(compose, cluster):
    env = cluster.env
    containers = _servers(compose)
    assert list(containers) == [s.name for s in cluster.servers]
    swap = {
        str(cluster.credentials): str(CONFIG_DIR / "credentials.yml"),
        str(cluster.endpoints): str(CONFIG_DIR / "endpoints.yml"),
        "127.0.0.1": ANY_HOST,  # the address each server listens on
    }
    for server in cluster.servers:
        expected = [in_image(swap.get(arg, arg)) for arg in server.args]
        assert containers[server.name]["command"] == expected, server.name
    rasa = containers["rasa-2"]["command"]
    assert rasa[rasa.index("--port") + 1] == str(int(env["RASA_PORT"]) + CLUSTER_PORT_OFFSET + 2)
    assert rasa[0] == "/app/.venv/bin/python" and "--auth-token" not in " ".join(rasa)


def test_every_container_gets_the_environment_the_cluster_gives_its_processes(compose, cluster):
    env = cluster.env
    for name, service in _servers(compose).items():
        environment = service["environment"]
        assert environment.pop("HELPDESK_PROCESS_NAME") == name
        assert set(environment) == set(process_environment(env)), name
        assert service["env_file"] == [".env"]
    # the addresses between containers: nginx in front, the simulator by its name
    shared = compose["services"]["actions-1"]["environment"]
    assert shared["ACTION_ENDPOINT_URL"] == f"http://nginx:{env['RASA_ACTIONS_PORT']}/webhook"
    assert shared["RASA_URL"] == f"http://nginx:{env['RASA_PORT']}"
    assert shared["HELPDESK_BACKEND_URL"] == f"http://backend:{env['HELPDESK_BACKEND_PORT']}"
    assert shared["HELPDESK_VAR_DIR"] == "/app/var"
    assert shared["SANIC_PROXIES_COUNT"] == "1"


def test_the_containers_start_one_after_the_other_as_the_supervisor_starts_them(compose):
    services = compose["services"]
    previous = None
    for name, service in _servers(compose).items():
        waits = service["depends_on"]
        assert {engine: waits[engine] for engine in ENGINES} == {
            engine: {"condition": "service_healthy"} for engine in ENGINES
        }
        if previous:
            assert previous in waits, f"{name} does not wait for {previous}"
        for other, condition in waits.items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[other], other
        assert service["restart"] == "unless-stopped" and service["init"] is True
        previous = name
    # nginx last: it resolves every server's name when it starts
    assert list(services)[-1] == "nginx"
    assert set(services["nginx"]["depends_on"]) == set(_servers(compose))
    # one image, built once
    built = [name for name, service in _servers(compose).items() if "build" in service]
    assert built == [next(iter(_servers(compose)))]
    assert services[built[0]]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert len({service["image"] for service in _servers(compose).values()}) == 1


def test_each_container_checks_the_health_url_the_supervisor_waits_for(compose, cluster):
    containers = _servers(compose)
    for server in cluster.servers:
        check = containers[server.name]["healthcheck"]
        assert check["test"][0] == "CMD" and check["start_period"] == f"{int(server.timeout)}s"
        assert check["test"][-1] == server.health, server.name


def test_nginx_sends_each_upstream_to_the_containers_by_name(bundle, compose):
    containers = _servers(compose)
    upstreams = dict(
        re.findall(r"upstream (\w+) \{\n(.*?)\n    \}", bundle["nginx.conf"], flags=re.S)
    )
    assert set(upstreams) == {"rasa", "rasa_sticky", "actions", "desk"}
    for kind, block in upstreams.items():
        servers = re.findall(r"server ([\w-]+):(\d+) ", block)
        server_kind = kind.removesuffix("_sticky")
        assert [name for name, _ in servers] == [f"{server_kind}-1", f"{server_kind}-2"]
        for name, port in servers:
            command = containers[name]["command"]
            assert command[command.index("--port") + 1] == port, name
    text = bundle["nginx.conf"]
    nginx = compose["services"]["nginx"]
    shared = containers["actions-1"]["environment"]
    assert f"listen {shared['RASA_PORT']};" in text
    assert f"listen 0.0.0.0:{shared['RASA_ACTIONS_PORT']};" in text  # the Rasa containers call it
    assert f"listen 0.0.0.0:{shared['HELPDESK_DESK_PORT']};" in text
    assert nginx["ports"] == [
        f"{shared['RASA_PORT']}:{shared['RASA_PORT']}",
        f"127.0.0.1:{shared['HELPDESK_DESK_PORT']}:{shared['HELPDESK_DESK_PORT']}",
    ]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert "127.0.0.1" not in text.split("server {")[0]  # no upstream on nginx's own loopback


def test_nginx_config_takes_the_hosts_of_its_upstreams(tmp_path):
    env = build_environment({"HELPDESK_VAR_DIR": str(tmp_path)}, dotenv=False)
    ports = {"rasa": [1, 2], "actions": [3, 4], "desk": [5, 6]}
    text = nginx_config(env, ports, tmp_path, hosts={"rasa": ["a", "b"]})
    assert "server a:1 " in text and "server b:2 " in text and "server 127.0.0.1:3 " in text
    with pytest.raises(ValueError, match="2 ports but 1 hosts"):
        nginx_config(env, ports, tmp_path, hosts={"desk": ["only-one"]})


# --------------------------------------------------------------------------- secrets


def test_no_secret_is_in_a_generated_file_and_env_example_names_every_one(bundle, compose):
    required = set()
    for text in bundle.values():
        required |= set(re.findall(r"\$\{(\w+):\?", text))
    assert required == set(SECRETS)
    example = bundle[".env.example"]
    for name in SECRETS:
        assert re.search(rf"^{name}=$", example, flags=re.M), name
    for service in _servers(compose).values():
        environment = service["environment"]
        assert environment["RASA_API_TOKEN"].startswith("${RASA_API_TOKEN:?")
        assert environment["RASA_ACTIONS_TOKEN"].startswith("${RASA_ACTIONS_TOKEN:?")
        assert "${POSTGRES_PASSWORD}@postgres:5432/" in environment["HELPDESK_DATABASE_URL"]
        assert environment["RASA_LOCK_STORE_PASSWORD"] == "${REDIS_PASSWORD}"
    redis = compose["services"]["redis"]
    assert "REDIS_PASSWORD" not in " ".join(redis["command"]).replace("$$REDIS_PASSWORD", "")
    assert "password: ${RASA_LOCK_STORE_PASSWORD}" in bundle["endpoints.yml"]


def test_the_generated_files_do_not_depend_on_this_checkouts_dotenv(bundle, monkeypatch):
    """A developer's .env (their tokens, their ports) must never reach deploy/."""
    import scripts.run_plan as run_plan

    monkeypatch.setenv("RASA_PORT", "6000")
    monkeypatch.setattr(
        run_plan, "_read_dotenv", lambda _path: {"RASA_PORT": "7000", "RASA_API_TOKEN": "leak"}
    )
    assert compose_bundle() == bundle
    env = container_environment()
    assert env["RASA_PORT"] == "5005" and "leak" not in env.values()


# --------------------------------------------------------------------------- variants


def test_a_channel_is_added_to_the_rasa_servers_with_its_variables_from_dotenv():
    bundle = compose_bundle(channels=["whatsapp"])
    credentials = yaml.safe_load(bundle["credentials.yml"])
    block = credentials["connectors.whatsapp.WhatsAppInput"]
    assert block["access_token"] == "${WHATSAPP_ACCESS_TOKEN}"
    assert "WHATSAPP_API_URL" in str(block)
    rasa = yaml.safe_load(bundle["compose.yml"])["services"]["rasa-1"]["environment"]
    assert rasa["WHATSAPP_API_URL"] == "${WHATSAPP_API_URL:-}"  # unset: empty, not an error
    with pytest.raises(ValueError, match="unknown channel sms"):
        compose_bundle(channels=["sms"])


def test_an_external_backend_replaces_the_simulator():
    document = yaml.safe_load(
        compose_bundle(backend_url="https://api.internal:8443")["compose.yml"]
    )
    assert "backend" not in document["services"]
    first = document["services"]["actions-1"]
    assert first["environment"]["HELPDESK_BACKEND_URL"] == "https://api.internal:8443"
    assert first["environment"]["HELPDESK_BACKEND_SIMULATOR"] == "false"
    assert "build" in first  # the first container builds the image


def test_size_sets_how_many_of_each_server():
    env = container_environment()
    names = list(compose_file(env, 3)["services"])
    assert [n for n in names if n.startswith("rasa-")] == ["rasa-1", "rasa-2", "rasa-3"]
    assert compose_file(env, 1)["services"]["postgres"]["command"][-1] == "max_connections=100"


def test_the_cli_writes_the_bundle_with_the_build_context_relative_to_its_folder(tmp_path):
    folder = tmp_path / "stack"
    assert main(["compose", str(folder), "--size", "1"]) == 0
    written = {path.name for path in folder.iterdir()}
    assert written == set(compose_bundle(1))
    document = yaml.safe_load((folder / "compose.yml").read_text())
    context = folder / document["services"]["backend"]["build"]["context"]
    assert (context / "Dockerfile").resolve() == ROOT / "Dockerfile"
    with pytest.raises(SystemExit):
        main(["compose", str(folder), "--size", "0"])


# --------------------------------------------------------------------------- Compose itself


def compose_client() -> list[str] | None:
    """`docker compose` where the plugin is installed, else `docker-compose` (Debian's package:
    `make compose-deps`), else None."""
    docker = shutil.which("docker")
    if docker:
        done = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if done.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _config(client: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*client, "--project-directory", str(folder), "-f", str(folder / "compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    """A copy of deploy/ beside a build context, with the .env an operator writes."""
    folder = tmp_path / "deploy"
    shutil.copytree(DEPLOY, folder, ignore=shutil.ignore_patterns(".env", "compose.override.yml"))
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    lines = [f"{name}={value}" for name, value in TEST_SECRETS.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.skipif(
    compose_client() is None,
    reason="no Compose client (neither `docker compose` nor docker-compose): `make compose-deps` "
    "installs Debian's docker-compose as root",
)
def test_a_compose_client_accepts_the_file_and_fills_in_the_secrets_from_dotenv(stack):
    client = compose_client()
    assert client is not None
    done = _config(client, stack)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    rasa = resolved["services"]["rasa-1"]["environment"]
    password = TEST_SECRETS["POSTGRES_PASSWORD"]
    assert rasa["RASA_TRACKER_STORE_URL"].startswith(f"postgresql://helpdesk:{password}@postgres:")
    assert rasa["RASA_API_TOKEN"] == TEST_SECRETS["RASA_API_TOKEN"]
    assert rasa["RASA_LOCK_STORE_PASSWORD"] == TEST_SECRETS["REDIS_PASSWORD"]
    assert "${" not in done.stdout
    # a missing secret stops Compose with the variable's name
    env_file = stack / ".env"
    env_file.write_text(
        "".join(line + "\n" for line in env_file.read_text().splitlines() if "RASA_API" not in line)
    )
    done = _config(client, stack)
    assert done.returncode != 0
    assert "set RASA_API_TOKEN in .env" in done.stderr
