"""The cluster in containers (`make compose`): a Compose file made from the plan that
`make run-cluster` runs, so that the two cannot drift apart.

    .venv/bin/python scripts/cluster_plan.py compose deploy [--size 2] [--channel whatsapp]

writes into the folder (`compose_bundle()`):

* `compose.yml`: PostgreSQL, Redis and nginx from their official images, then every server of
  `scripts.cluster_plan.cluster_servers()` (the backend simulator, `size` action servers, Rasa
  servers, sweepers and desks) from the assistant's image (the repository's Dockerfile). Each
  container runs the command line `make run-cluster` runs, with the environment it gives its
  processes (`build_environment()`, `cluster_environment()`, `process_environment()`): only
  the paths are the image's (`/app`) and the addresses the containers' names (`nginx`,
  `postgres`, `redis`, `backend`). Each waits for the one before it, as the supervisor starts
  them one after the other; nginx comes last.
* `nginx.conf`: `nginx_config()` with the servers' container names as upstream hosts.
* `credentials.yml`, `endpoints.yml`: the Rasa servers' files, written by the functions that
  write them for `make run-cluster` (Rasa's Redis lock store added).
* `postgres-init.sql`: the cluster's second database, made when PostgreSQL's volume is new.
* `.env.example`: the secrets the stack needs in `.env` beside compose.yml.

No secret is in a generated file: compose.yml names them (`${RASA_API_TOKEN:?...}`, the
passwords inside the database URLs), Compose fills them in from `.env` in the same folder, and
every container of the assistant also reads that file whole (`env_file`): the place for the
channels' tokens, SMTP, the desk's first admin and the other settings of `.env.example`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from scripts.cluster_plan import (
    CLUSTER_DATABASES,
    CLUSTER_SIZE,
    cluster_environment,
    cluster_servers,
    nginx_config,
    process_environment,
)
from scripts.run_plan import (
    BIN,
    OPTIONAL_CHANNELS,
    ROOT,
    Service,
    build_environment,
    redis_lock_store,
    simulator_enabled,
    write_credentials,
    write_endpoints,
)

#: Where the image (the repository's Dockerfile) keeps the project and its virtual environment.
IMAGE_ROOT = "/app"
IMAGE_BIN = f"{IMAGE_ROOT}/.venv/bin"
#: The assistant's image; `HELPDESK_IMAGE` in `.env` names another (a registry's tag).
IMAGE = "${HELPDESK_IMAGE:-helpdesk-assistant:latest}"
#: The official images of the engines and the load balancer, major versions pinned.
POSTGRES_IMAGE = "postgres:17"
REDIS_IMAGE = "redis:7"
NGINX_IMAGE = "nginx:1.28"
#: Every interface of a container: the servers are reached by their container's name.
ANY_HOST = "0.0.0.0"  # noqa: S104 - inside a container, on the stack's own network
#: Where the Rasa containers find credentials.yml and endpoints.yml (mounted read-only).
CONFIG_DIR = Path("/etc/helpdesk")
#: nginx's working folder in its container (its `tmp/` is a tmpfs) and its logs (the official
#: image links them to the container's output).
NGINX_DIR = Path("/var/cache/nginx/helpdesk")
NGINX_LOGS = Path("/var/log/nginx")
#: PostgreSQL's superuser, who owns the cluster's databases.
POSTGRES_USER = "helpdesk"
#: Connections PostgreSQL accepts per process of the assistant (each keeps its own pool).
PG_CONNECTIONS_PER_PROCESS = 25
#: The secrets `.env` must hold, and how to make each. The passwords end up inside URLs:
#: letters and digits only.
SECRETS = {
    "POSTGRES_PASSWORD": "openssl rand -hex 24",
    "REDIS_PASSWORD": "openssl rand -hex 24",
    "RASA_API_TOKEN": "openssl rand -hex 24",
    "RASA_ACTIONS_TOKEN": "openssl rand -hex 24",
}
#: How a container checks its own health URL (the image has Python, not curl).
HEALTH_PROBE = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)"
#: What a container waits for in the one it depends on.
HEALTHY = {"condition": "service_healthy"}
STARTED = {"condition": "service_started"}


def _required(name: str) -> str:
    """A reference Compose fills in from `.env`, stopping with a clear message when unset."""
    return f"${{{name}:?set {name} in .env (see .env.example)}}"


def container_environment(*, backend_url: str = "") -> dict[str, str]:
    """The environment every container of the assistant shares, as `make run-cluster`
    computes it for its processes (`build_environment()` without this checkout's `.env`, then
    `cluster_environment()`), given the stack's engines and the containers' names.

    Args:
        backend_url: The backend API (`HELPDESK_BACKEND_URL`); empty: the simulator, in its
            own container.

    Returns:
        The environment; the secrets in it are references to `.env` (`${...}`), the lock
        store's password variable included (as `write_endpoints` adds it).
    """
    base = {
        name: f"postgresql://{POSTGRES_USER}:${{POSTGRES_PASSWORD}}@postgres:5432/{database}"
        for name, database in CLUSTER_DATABASES.items()
    }
    base["HELPDESK_REDIS_URL"] = "redis://:${REDIS_PASSWORD}@redis:6379/0"
    base["RASA_API_TOKEN"] = _required("RASA_API_TOKEN")
    base["RASA_ACTIONS_TOKEN"] = _required("RASA_ACTIONS_TOKEN")
    # nginx listens for the Rasa servers' action calls, and for the desk, on its network.
    base["RASA_ACTIONS_HOST"] = ANY_HOST
    base["HELPDESK_DESK_HOST"] = ANY_HOST
    if backend_url:
        base["HELPDESK_BACKEND_URL"] = backend_url
    env = cluster_environment(build_environment(base, dotenv=False))
    # Between containers, this machine's loopback is the container's own: name the others.
    env["ACTION_ENDPOINT_URL"] = f"http://nginx:{env['RASA_ACTIONS_PORT']}/webhook"
    env["RASA_URL"] = f"http://nginx:{env['RASA_PORT']}"
    if simulator_enabled(env):
        env["HELPDESK_BACKEND_URL"] = f"http://backend:{env['HELPDESK_BACKEND_PORT']}"
    _, lock_store_secrets = redis_lock_store(
        env["HELPDESK_REDIS_URL"], env.get("HELPDESK_REDIS_KEY_PREFIX", "")
    )
    env.update(lock_store_secrets)
    return env


def in_image(value: str) -> str:
    """`value` with this checkout's paths (its project folder, the running virtual
    environment) replaced by the image's."""
    if value == sys.executable:
        return f"{IMAGE_BIN}/python"
    for here, there in ((str(BIN), IMAGE_BIN), (str(ROOT), IMAGE_ROOT)):
        if value == here or value.startswith(here + "/"):
            return there + value[len(here) :]
    return value


def channel_names() -> list[str]:
    """The optional channels a stack can add (`whatsapp`, `telegram`, `messenger`,
    `instagram`), as `make run` names them."""
    return [path.rsplit(".", 1)[1].removesuffix("Input").lower() for path in OPTIONAL_CHANNELS]


def channel_variables(channels: Sequence[str]) -> list[str]:
    """Every variable the credentials blocks of `channels` read.

    Raises:
        ValueError: When a channel is not one of `channel_names()`.
    """
    by_name = dict(zip(channel_names(), OPTIONAL_CHANNELS.values(), strict=True))
    unknown = sorted(set(channels) - set(by_name))
    if unknown:
        raise ValueError(f"unknown channel {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [variable for name in channels for variable in by_name[name][1].values()]


def _container_servers(env: Mapping[str, str], size: int) -> tuple[list[Service], dict[str, list]]:
    return cluster_servers(
        env,
        CONFIG_DIR / "credentials.yml",
        CONFIG_DIR / "endpoints.yml",
        size=size,
        bind_host=ANY_HOST,
    )


def _healthcheck(service: Service) -> dict[str, Any]:
    assert service.health is not None
    return {
        "test": ["CMD", f"{IMAGE_BIN}/python", "-c", HEALTH_PROBE, service.health],
        "interval": "10s",
        "timeout": "6s",
        "retries": 3,
        "start_period": f"{int(service.timeout)}s",
    }


def _app_service(
    service: Service,
    environment: Mapping[str, str],
    depends_on: Mapping[str, Mapping[str, str]],
    *,
    build: Mapping[str, str] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"image": IMAGE}
    if build is not None:
        out["build"] = dict(build)
    else:  # built once, by the first service
        out["pull_policy"] = "never"
    out["command"] = [in_image(arg) for arg in service.args]
    out["init"] = True  # signals reach the process (no process here handles them as PID 1)
    out["env_file"] = [".env"]
    out["environment"] = {**environment, "HELPDESK_PROCESS_NAME": service.name}
    if service.name.startswith("rasa-"):
        out["volumes"] = [
            f"./{name}:{CONFIG_DIR / name}:ro" for name in ("credentials.yml", "endpoints.yml")
        ]
    if service.health:
        out["healthcheck"] = _healthcheck(service)
    out["depends_on"] = {name: dict(condition) for name, condition in depends_on.items()}
    out["restart"] = "unless-stopped"
    return out


def compose_file(
    env: Mapping[str, str],
    size: int = CLUSTER_SIZE,
    *,
    channels: Sequence[str] = (),
    context: str = "..",
) -> dict[str, Any]:
    """The Compose file of the cluster (see the module docstring).

    Args:
        env: The containers' environment (`container_environment()`).
        size: How many of each server.
        channels: Optional channels the Rasa servers' credentials.yml adds
            (`channel_names()`); their variables come from `.env`.
        context: The repository (the image's build context), relative to the Compose file.

    Returns:
        The file as a mapping, ready for YAML.
    """
    servers, _ = _container_servers(env, size)
    shared = {name: in_image(value) for name, value in process_environment(env).items()}
    engines = {"postgres": HEALTHY, "redis": HEALTHY}
    services: dict[str, Any] = {
        "postgres": _postgres_service(size),
        "redis": _redis_service(),
    }
    previous: Service | None = None
    for service in servers:
        environment = dict(shared)
        if service.name.startswith("rasa-"):
            # Rasa expands every ${...} of credentials.yml: an unset optional one is empty.
            environment.update({name: f"${{{name}:-}}" for name in channel_variables(channels)})
        waits = dict(engines)
        if previous is not None:  # one after the other, as the supervisor starts them
            waits[previous.name] = HEALTHY if previous.health else STARTED
        build = {"context": context, "dockerfile": "Dockerfile"} if previous is None else None
        services[service.name] = _app_service(service, environment, waits, build=build)
        previous = service
    services["nginx"] = _nginx_service(env, servers)
    return {"services": services, "volumes": {"postgres-data": {}}}


def _postgres_service(size: int) -> dict[str, Any]:
    first = next(iter(CLUSTER_DATABASES.values()))
    # Every process of the assistant but the simulator keeps pools (make engines: 200 for 2).
    connections = PG_CONNECTIONS_PER_PROCESS * 4 * size
    return {
        "image": POSTGRES_IMAGE,
        "command": ["postgres", "-c", f"max_connections={connections}"],
        "environment": {
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_DB": first,
            "POSTGRES_PASSWORD": _required("POSTGRES_PASSWORD"),
        },
        "volumes": [
            "postgres-data:/var/lib/postgresql/data",
            "./postgres-init.sql:/docker-entrypoint-initdb.d/10-helpdesk.sql:ro",
        ],
        # Over TCP: during its first start the image runs the init scripts on a server that
        # listens on its socket only.
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", first],
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
            "start_period": "30s",
        },
        "restart": "unless-stopped",
    }


def _redis_service() -> dict[str, Any]:
    # The password goes in a configuration file, not on the command line (which every user
    # of the host can read); no persistence: Redis holds locks and messages in flight.
    setup = (
        'printf \'requirepass "%s"\\nsave ""\\nappendonly no\\n\' "$$REDIS_PASSWORD"'
        " > /tmp/redis.conf && exec docker-entrypoint.sh redis-server /tmp/redis.conf"
    )
    return {
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", setup],
        "environment": {"REDIS_PASSWORD": _required("REDIS_PASSWORD")},
        "healthcheck": {
            "test": ["CMD-SHELL", 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'],
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
        },
        "restart": "unless-stopped",
    }


def _nginx_service(env: Mapping[str, str], servers: list[Service]) -> dict[str, Any]:
    rasa_port, desk_port = env["RASA_PORT"], env["HELPDESK_DESK_PORT"]
    return {
        "image": NGINX_IMAGE,
        "volumes": ["./nginx.conf:/etc/nginx/nginx.conf:ro"],
        "tmpfs": [str(NGINX_DIR / "tmp")],
        # As `make run`: Rasa's port on every address, the desk on this machine only (put it
        # behind HTTPS before opening it further: docs/agent-desk.md).
        "ports": [f"{rasa_port}:{rasa_port}", f"127.0.0.1:{desk_port}:{desk_port}"],
        "healthcheck": {
            "test": ["CMD", "curl", "-fsS", "-o", "/dev/null", nginx_health_url(env)],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
        },
        # nginx resolves its upstreams' names when it starts: every server must be there.
        "depends_on": {s.name: dict(HEALTHY if s.health else STARTED) for s in servers},
        "restart": "unless-stopped",
    }


def nginx_health_url(env: Mapping[str, str]) -> str:
    """nginx's own health URL inside its container (as `cluster_plan()`'s nginx service)."""
    return f"http://127.0.0.1:{env['RASA_PORT']}/nginx-health"


def container_nginx_config(env: Mapping[str, str], size: int = CLUSTER_SIZE) -> str:
    """nginx's configuration for the containers: `nginx_config()` with the servers' container
    names as upstream hosts."""
    _, upstreams = _container_servers(env, size)
    ports = {kind: [port for _, port in servers] for kind, servers in upstreams.items()}
    hosts = {kind: [name for name, _ in servers] for kind, servers in upstreams.items()}
    return nginx_config(env, ports, NGINX_DIR, hosts=hosts, log_dir=NGINX_LOGS)


def postgres_init_sql() -> str:
    """The cluster's databases besides the image's own `POSTGRES_DB`."""
    rest = list(CLUSTER_DATABASES.values())[1:]
    return (
        "-- Generated by `make compose` (scripts/compose_plan.py). PostgreSQL's image runs it\n"
        "-- once, when its volume is new: the cluster's databases besides POSTGRES_DB.\n"
        + "".join(f'CREATE DATABASE "{name}";\n' for name in rest)
    )


def env_example() -> str:
    """`.env.example` beside compose.yml: the secrets Compose needs, and where the rest goes."""
    lines = [
        "# Copy to .env beside compose.yml, fill in, `chmod 600 .env` (docs/operations.md,",
        '# "Containers"). Compose puts these values where compose.yml names them, and every',
        "# container of the assistant reads this file whole: add here the other settings of the",
        "# repository's .env.example you need (HELPDESK_REST_TOKEN, WHATSAPP_*, TELEGRAM_*,",
        "# SMTP_*, HELPDESK_DESK_ADMIN_*, HELPDESK_TIMEZONE, ...). Ports and the addresses",
        "# between the containers are compose.yml's: regenerate it to change them.",
        "# The passwords go inside URLs: letters and digits only.",
        "COMPOSE_PROJECT_NAME=helpdesk",
    ]
    for name, command in SECRETS.items():
        lines += [f"# {command}", f"{name}="]
    return "\n".join(lines) + "\n"


def render_compose(document: Mapping[str, Any], size: int) -> str:
    """compose.yml's text: a header saying where it comes from, then the YAML."""
    header = (
        "# Generated by `make compose` (scripts/compose_plan.py) from the plan `make run-cluster`\n"
        f"# runs, {size} of each server: do not edit, regenerate.\n"
        "# Secrets come from .env beside this file (.env.example); local changes (published\n"
        "# addresses, limits) go in compose.override.yml, which Compose merges. See\n"
        '# docs/operations.md, "Containers".\n'
    )
    body = yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False, width=100)
    return header + body


def compose_bundle(
    size: int = CLUSTER_SIZE,
    *,
    channels: Sequence[str] = (),
    backend_url: str = "",
    context: str = "..",
) -> dict[str, str]:
    """Every file of the stack (see the module docstring): file name -> text.

    Args:
        size: How many of each server.
        channels: Optional channels to add to the Rasa servers (`channel_names()`).
        backend_url: The backend API; empty: the simulator in its own container.
        context: The repository, relative to the folder the files go to.

    Raises:
        ValueError: When `size` is below 1 or a channel is unknown.
    """
    variables = channel_variables(channels)
    env = container_environment(backend_url=backend_url)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # make run adds a channel whose variables are set: mark the chosen ones as set.
        credentials, _ = write_credentials({**env, **dict.fromkeys(variables, "set")}, folder)
        endpoints = write_endpoints(env, folder)
        files = {
            "credentials.yml": credentials.read_text(encoding="utf-8"),
            "endpoints.yml": endpoints.read_text(encoding="utf-8"),
        }
    document = compose_file(env, size, channels=channels, context=context)
    files["compose.yml"] = render_compose(document, size)
    files["nginx.conf"] = container_nginx_config(env, size)
    files["postgres-init.sql"] = postgres_init_sql()
    files[".env.example"] = env_example()
    return dict(sorted(files.items()))


def write_bundle(
    folder: Path,
    size: int = CLUSTER_SIZE,
    *,
    channels: Sequence[str] = (),
    backend_url: str = "",
) -> list[Path]:
    """Write `compose_bundle()` into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    context = Path(os.path.relpath(ROOT, folder.resolve())).as_posix()
    bundle = compose_bundle(size, channels=channels, backend_url=backend_url, context=context)
    written = []
    for name, text in bundle.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
