"""The assistant as a cluster on one machine (`make run-cluster`): what starts, and nginx's part.

    nginx :RASA_PORT ──┬─ Rasa 1 ─┐                ┌─ action server 1
    (least connections;├─ Rasa 2 ─┴─ nginx :RASA_ACTIONS_PORT ─┴─ action server 2
     socket.io sticky  │
     by address)       │  PostgreSQL: the helpdesk database and Rasa's tracker store
    nginx :DESK_PORT ──┴─ desk 1, desk 2 (one leads the desk worker: an advisory lock)
                          Redis: Rasa's lock store, the web chat's socket.io rooms
                          sweeper 1, sweeper 2 (an idle conversation is closed once: a claim)

The public ports are the ones `make run` uses (`RASA_PORT`, `RASA_ACTIONS_PORT`,
`HELPDESK_DESK_PORT`), so every URL it prints stays the same; the servers behind nginx listen on
loopback ports `CLUSTER_PORT_OFFSET` above them (Rasa 1 on RASA_PORT + 101, ...).

`cluster_environment()` adds to the single-machine environment what several processes must
share: PostgreSQL and Redis from `make engines` (scripts/engines.py: installed from Debian's
packages when missing) unless `HELPDESK_DATABASE_URL`, `RASA_TRACKER_STORE_URL` and
`HELPDESK_REDIS_URL` name others, and the proxy count that lets the servers see the client's
address behind nginx. `cluster_plan()` is every service in start order, nginx last (it is
the load balancer: nothing reaches a server before all of them are up).

The same plan runs without `make`: `systemd_units()` (`make systemd`), and in containers
(`make compose`: scripts/compose_plan.py, from `cluster_servers()` and `nginx_config()` with
the containers' names as upstream hosts).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # pragma: no cover - `python scripts/cluster_plan.py` prints the config
    sys.path.insert(0, str(ROOT))

from scripts import engines  # noqa: E402
from scripts.run_plan import Service, desk_url, plan  # noqa: E402

#: How many of each server (Rasa, action server, desk, sweeper).
CLUSTER_SIZE = 2
#: The servers behind nginx listen this far above the public port (plus their number).
CLUSTER_PORT_OFFSET = 100
#: Databases made on the engines' PostgreSQL when no URL is given.
CLUSTER_DATABASES = {
    "HELPDESK_DATABASE_URL": "helpdesk_cluster",
    "RASA_TRACKER_STORE_URL": "helpdesk_cluster_tracker",
}
NGINX_PACKAGES = ["nginx"]


def _ensure_database(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server `admin_url` names, created when missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not found:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def cluster_environment(env: dict[str, str]) -> dict[str, str]:
    """`env` (scripts.run_plan.build_environment) with the shared engines of a cluster.

    Starts PostgreSQL and Redis (`make engines`) for what is not given, and makes the cluster's
    databases on that PostgreSQL.

    Raises:
        engines.EngineError: When an engine is missing and cannot be installed.
        ValueError: When a given database URL is SQLite (several processes on several
            machines cannot share it).
    """
    given = {name: env.get(name, "") for name in (*CLUSTER_DATABASES, "HELPDESK_REDIS_URL")}
    for name in CLUSTER_DATABASES:
        if given[name].startswith("sqlite"):
            raise ValueError(f"{name} is SQLite; a cluster needs PostgreSQL (or leave it unset)")
    if not all(given[name] for name in CLUSTER_DATABASES):
        engines.start_postgres()
    if not given["HELPDESK_REDIS_URL"]:
        engines.start_redis()
    if not all(given.values()):  # the engines' URLs (and passwords) only when they are used
        found = engines.urls()
        for name, database in CLUSTER_DATABASES.items():
            if not given[name]:
                env[name] = _ensure_database(found.postgres, database)
        env["HELPDESK_REDIS_URL"] = given["HELPDESK_REDIS_URL"] or found.redis
    # Behind nginx: the client's address is the last one nginx adds to X-Forwarded-For (read
    # by Sanic in every server: the desk's login throttle, the channels' logs).
    env.setdefault("SANIC_PROXIES_COUNT", "1")
    return env


def _port(env: Mapping[str, str], variable: str, number: int) -> int:
    return int(env[variable]) + CLUSTER_PORT_OFFSET + number


#: Where the servers behind nginx listen when they share its machine (`make run-cluster`).
LOOPBACK = "127.0.0.1"


def cluster_servers(
    env: Mapping[str, str],
    credentials: Path,
    endpoints: Path,
    *,
    size: int = CLUSTER_SIZE,
    bind_host: str = LOOPBACK,
) -> tuple[list[Service], dict[str, list[tuple[str, int]]]]:
    """The servers of the cluster in start order, without nginx: the backend simulator (when
    used), then `size` action servers, Rasa servers, sweepers and desks.

    Each server is `scripts.run_plan.plan()`'s own service on its own port (the public port
    plus `CLUSTER_PORT_OFFSET` plus its number), named `<service>-<number>`.

    Args:
        env: The cluster's environment (`cluster_environment`).
        credentials: The Rasa servers' credentials file.
        endpoints: The Rasa servers' endpoints file.
        size: How many of each server.
        bind_host: The address the servers (and the simulator) listen on: loopback when nginx
            runs on the same machine, every interface ("0.0.0.0") in containers.

    Returns:
        The services, and nginx's upstreams: for `rasa`, `actions` and `desk`, each server's
        name and port.

    Raises:
        ValueError: When `size` is below 1.
    """
    if size < 1:
        raise ValueError("a cluster needs at least one of each server")
    services: list[Service] = []
    upstreams: dict[str, list[tuple[str, int]]] = {"rasa": [], "actions": [], "desk": []}
    for number in range(1, size + 1):
        own = dict(env)
        own["RASA_PORT"] = str(_port(env, "RASA_PORT", number))
        own["RASA_ACTIONS_PORT"] = str(_port(env, "RASA_ACTIONS_PORT", number))
        own["HELPDESK_DESK_PORT"] = str(_port(env, "HELPDESK_DESK_PORT", number))
        own["HELPDESK_DESK_HOST"] = bind_host
        own["HELPDESK_SWEEPER_PORT"] = str(_port(env, "HELPDESK_SWEEPER_PORT", number))
        own["HELPDESK_SWEEPER_HOST"] = bind_host
        for service in plan(own, credentials, endpoints=endpoints):
            if service.name == "demo":  # the widget's demo page: `make run` only
                continue
            if service.name == "backend":
                if number == 1:
                    args = [*service.args, "--host", bind_host]
                    services.append(
                        Service(service.name, service.label, args, service.health, service.timeout)
                    )
                continue
            args = list(service.args)
            if service.name == "rasa":  # behind nginx: on bind_host only
                args += ["--interface", bind_host]
            services.append(
                Service(
                    f"{service.name}-{number}",
                    f"{service.label} {number}",
                    args,
                    service.health,
                    service.timeout,
                )
            )
        upstreams["rasa"].append((f"rasa-{number}", int(own["RASA_PORT"])))
        upstreams["actions"].append((f"actions-{number}", int(own["RASA_ACTIONS_PORT"])))
        upstreams["desk"].append((f"desk-{number}", int(own["HELPDESK_DESK_PORT"])))
    order = {"backend": 0, "actions": 1, "rasa": 2, "sweeper": 3, "desk": 4}
    services.sort(key=lambda s: order[s.name.split("-")[0]])  # stable: 1 before 2
    return services, upstreams


def cluster_plan(
    env: Mapping[str, str],
    credentials: Path,
    endpoints: Path,
    *,
    size: int = CLUSTER_SIZE,
    nginx_dir: Path | None = None,
) -> list[Service]:
    """Every service of the cluster in start order: the backend simulator (when used), `size`
    action servers, Rasa servers, sweepers and desks (`cluster_servers`, on loopback), then
    nginx in front of them.

    nginx's configuration is written to `nginx_dir` (default: `HELPDESK_VAR_DIR/cluster/nginx`).
    """
    services, upstreams = cluster_servers(env, credentials, endpoints, size=size)
    ports = {kind: [port for _, port in servers] for kind, servers in upstreams.items()}
    folder = nginx_dir or Path(env["HELPDESK_VAR_DIR"]) / "cluster" / "nginx"
    config = write_nginx_config(env, ports, folder)
    nginx = [nginx_binary(), "-p", str(folder), "-c", str(config), "-g", "daemon off;"]
    health = f"http://127.0.0.1:{env['RASA_PORT']}/nginx-health"
    services.append(Service("nginx", "load balancer (nginx)", nginx, health, 30))
    return services


def nginx_binary() -> str:
    """nginx from Debian's package, installed (as root) when missing.

    Raises:
        engines.EngineError: When nginx is missing and this process cannot install it.
    """
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        engines.install(NGINX_PACKAGES)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def _servers(ports: list[int], hosts: Sequence[str] | None, extra: str = "") -> str:
    addresses = hosts or [LOOPBACK] * len(ports)
    if len(addresses) != len(ports):
        raise ValueError(f"{len(ports)} ports but {len(addresses)} hosts for one upstream")
    pairs = zip(addresses, ports, strict=True)
    return "".join(f"        server {host}:{port}{extra};\n" for host, port in pairs)


def nginx_config(
    env: Mapping[str, str],
    upstreams: Mapping[str, list[int]],
    folder: Path,
    *,
    hosts: Mapping[str, Sequence[str]] | None = None,
    log_dir: Path | None = None,
) -> str:
    """nginx's configuration for the cluster (see the module docstring).

    * Rasa: least connections; a server that refuses or times out the connection is skipped
      (`proxy_next_upstream`; a request already sent is never sent twice: no message is
      handled twice). socket.io (the web chat) stays on one server per client address, as
      long polling requires; the rooms are shared through Redis.
    * Action servers: least connections, a dead one skipped the same way.
    * Desk: least connections; sessions live in the database, so any desk serves any agent.
    * `/metrics` answers 404 on the public Rasa and desk ports: Prometheus scrapes each server
      on its own port (docs/operations.md, "Metrics and health").

    Args:
        env: The cluster's environment: the public ports, and the addresses nginx listens on
            for the desk (`HELPDESK_DESK_HOST`) and the action servers (`RASA_ACTIONS_HOST`).
        upstreams: The ports of the servers behind nginx, by kind (`rasa`, `actions`, `desk`).
        folder: nginx's working folder: its pid file and temporary files.
        hosts: The address of each server of `upstreams`, in the same order (service names in
            containers); default: loopback, where `make run-cluster` runs them.
        log_dir: Where the access and error logs go; default: `folder`.
    """
    rasa_port, actions_port = env["RASA_PORT"], env["RASA_ACTIONS_PORT"]
    desk_host = env.get("HELPDESK_DESK_HOST") or LOOPBACK
    actions_host = env.get("RASA_ACTIONS_HOST") or LOOPBACK
    hosts = hosts or {}
    logs = log_dir or folder
    rasa_listen = env.get("RASA_HOST", "")  # Rasa listens on every interface, as make run's
    rasa_listen = f"{rasa_listen}:{rasa_port}" if rasa_listen else rasa_port
    health = "nginx-health"
    dead = "max_fails=1 fail_timeout=5s"
    proxy = (
        "        proxy_http_version 1.1;\n"
        "        proxy_set_header Host $host;\n"
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "        proxy_set_header X-Forwarded-Proto $scheme;\n"
    )
    keep = '        proxy_set_header Connection "";\n'
    retry = "        proxy_next_upstream error timeout;\n        proxy_next_upstream_tries 2;\n"
    temp = "".join(
        f"    {kind}_temp_path {folder / 'tmp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# Written by scripts/cluster_plan.py (make run-cluster, make compose): do not edit.
worker_processes 1;
error_log {logs / "error.log"} warn;
pid {folder / "nginx.pid"};

events {{
    worker_connections 1024;
}}

http {{
    access_log {logs / "access.log"};
{temp}    client_max_body_size 16m;
    # Bodies and answers stay in memory: nginx's workers (user nobody when started as root)
    # may not be able to write under the var folder. Rasa sends whole trackers to the action
    # servers, past the default 16 KB.
    client_body_buffer_size 16m;
    proxy_max_temp_file_size 0;
    server_tokens off;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}

    upstream rasa {{
        least_conn;
{_servers(upstreams["rasa"], hosts.get("rasa"), " " + dead)}        keepalive 32;
    }}
    upstream rasa_sticky {{
        ip_hash;
{_servers(upstreams["rasa"], hosts.get("rasa"), " " + dead)}    }}
    upstream actions {{
        least_conn;
{_servers(upstreams["actions"], hosts.get("actions"), " " + dead)}        keepalive 32;
    }}
    upstream desk {{
        least_conn;
{_servers(upstreams["desk"], hosts.get("desk"), " " + dead)}        keepalive 16;
    }}

    server {{
        listen {rasa_listen};
        location = /{health} {{
            access_log off;
            return 200 "ok\\n";
        }}
        location = /metrics {{
            return 404;
        }}
        location /socket.io/ {{
            proxy_pass http://rasa_sticky;
{proxy}            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 90s;
        }}
        location / {{
            proxy_pass http://rasa;
{proxy}{keep}{retry}            proxy_read_timeout 120s;
            proxy_buffering off;
        }}
    }}

    server {{
        listen {actions_host}:{actions_port};
        location / {{
            proxy_pass http://actions;
{proxy}{keep}{retry}            proxy_read_timeout 120s;
        }}
    }}

    server {{
        listen {desk_host}:{env["HELPDESK_DESK_PORT"]};
        location = /metrics {{
            return 404;
        }}
        location / {{
            proxy_pass http://desk;
{proxy}{keep}{retry}            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def write_nginx_config(
    env: Mapping[str, str], upstreams: Mapping[str, list[int]], folder: Path
) -> Path:
    """Write nginx's configuration (and its working folders) under `folder`; returns the file."""
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    path = folder / "nginx.conf"
    path.write_text(nginx_config(env, upstreams, folder), encoding="utf-8")
    return path


def check_nginx_config(binary: str, config: Path) -> str:
    """`nginx -t` on the written configuration: "" when it passes, else nginx's complaint."""
    done = subprocess.run(
        [binary, "-t", "-p", str(config.parent), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stderr.strip()


def cluster_summary_lines(env: Mapping[str, str], size: int = CLUSTER_SIZE) -> str:
    """What `make run-cluster` prints besides `make run`'s URLs."""
    return (
        f"  cluster          nginx in front of {size} Rasa servers, {size} action servers and "
        f"{size} desks ({desk_url(env)}), {size} sweepers\n"
        f"  tracker store    {engines.masked_url(env['RASA_TRACKER_STORE_URL'])}\n"
        f"  lock store       {engines.masked_url(env['HELPDESK_REDIS_URL'])} "
        "(Rasa's locks, web chat rooms)\n"
    )


# --------------------------------------------------------------------------- systemd

#: What the units' environment file carries: the assistant's settings and what the libraries
#: it runs read, not the rest of the shell that wrote it.
_FOR_UNITS = (
    "HELPDESK_",
    "RASA_",
    "WHATSAPP_",
    "TELEGRAM_",
    "SMTP_",
    "SANIC_",
    "ACTION_ENDPOINT_URL",
    "OMP_",
    "GOMP_",
    "TF_",
    "TICKET_LOCK_LIFETIME",
    "PATH",
    "LANG",
    "LC_",
    "TZ",
)


def systemd_units(
    env: Mapping[str, str],
    services: list[Service],
    *,
    env_file: Path,
    user: str = "helpdesk",
) -> dict[str, str]:
    """systemd units for `services` (`cluster_plan` or `scripts.run_plan.plan`), so a machine
    without `make run` runs exactly the processes it runs: one `helpdesk-<name>.service` each
    (restarted on failure, as the supervisor does) and `helpdesk.target` to start and stop them
    together. The units read their environment from `env_file` (`write_env_file`).

    Returns:
        File name -> text.
    """
    units: dict[str, str] = {}
    names = [f"helpdesk-{service.name}.service" for service in services]
    for index, service in enumerate(services):
        after = " ".join(["network-online.target", "postgresql.service", "redis-server.service"])
        if index:
            after += " " + names[index - 1]
        command = " ".join(_systemd_quote(arg) for arg in service.args)
        units[names[index]] = (
            f"# Generated by scripts/cluster_plan.py from the plan `make run-cluster` runs.\n"
            f"[Unit]\n"
            f"Description=Helpdesk assistant: {service.label}\n"
            f"PartOf=helpdesk.target\n"
            f"After={after}\n"
            f"Wants=network-online.target\n\n"
            f"[Service]\n"
            f"Type=simple\n"
            f"User={user}\n"
            f"WorkingDirectory={ROOT}\n"
            f"EnvironmentFile={env_file}\n"
            f"Environment=HELPDESK_PROCESS_NAME={service.name}\n"
            f"ExecStart={command}\n"
            f"Restart=always\n"
            f"RestartSec=1\n"
            f"TimeoutStartSec={int(service.timeout)}\n"
            f"KillMode=control-group\n"
            f"NoNewPrivileges=true\n"
            f"PrivateTmp=true\n\n"
            f"[Install]\n"
            f"WantedBy=helpdesk.target\n"
        )
    units["helpdesk.target"] = (
        "# Generated by scripts/cluster_plan.py: `systemctl start helpdesk.target` starts every\n"
        "# process of the assistant, `stop` stops them.\n"
        "[Unit]\n"
        "Description=Helpdesk assistant (every process)\n"
        f"Wants={' '.join(names)}\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )
    return units


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-=:,@+" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def process_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What every process of the assistant gets from `env`, sorted by name: the assistant's
    settings and what the libraries it runs read (`_FOR_UNITS`), without a process's own name
    (`HELPDESK_PROCESS_NAME`, set per process) or the rest of the shell that computed it."""
    return {
        name: env[name]
        for name in sorted(env)
        if name != "HELPDESK_PROCESS_NAME" and name.startswith(_FOR_UNITS)
    }


def write_env_file(env: Mapping[str, str], path: Path) -> Path:
    """The processes' environment as a systemd `EnvironmentFile` (mode 0600: it holds the
    tokens and database passwords)."""
    lines = []
    for name, raw in process_environment(env).items():
        value = raw.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        lines.append(f'{name}="{value}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """`python scripts/cluster_plan.py systemd DIR [--single]`: write the units and their
    environment file for this checkout (the cluster's processes, or `make run`'s with
    `--single`). `python scripts/cluster_plan.py compose DIR [--size N]`: write the Compose
    file of the cluster, nginx's configuration and the files they mount
    (scripts/compose_plan.py)."""
    import argparse

    from scripts.run_plan import build_environment, write_credentials, write_endpoints

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["systemd", "compose"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--single", action="store_true", help="make run's processes instead")
    parser.add_argument("--user", default="helpdesk", help="the service account (default helpdesk)")
    parser.add_argument(
        "--size",
        type=int,
        default=CLUSTER_SIZE,
        help=f"compose: servers of each kind ({CLUSTER_SIZE})",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME",
        help=(
            "compose: add an optional channel (whatsapp, telegram, messenger, instagram) "
            "to the Rasa servers"
        ),
    )
    parser.add_argument(
        "--backend-url", default="", help="compose: the backend API instead of the simulator"
    )
    args = parser.parse_args(argv)
    if args.what == "compose":
        from scripts.compose_plan import write_bundle

        try:
            written = write_bundle(
                args.folder, args.size, channels=args.channel, backend_url=args.backend_url
            )
        except ValueError as exc:
            parser.error(str(exc))
        print(f"wrote {', '.join(path.name for path in written)} to {args.folder}")
        print(
            f"check: docker compose -f {args.folder / 'compose.yml'} config -q "
            "(with .env beside it: see .env.example)"
        )
        return 0
    env = build_environment()
    var_dir = Path(env["HELPDESK_VAR_DIR"])
    if not args.single:
        env = cluster_environment(env)
    credentials, _ = write_credentials(env, var_dir)
    endpoints = write_endpoints(env, var_dir)
    if args.single:
        services = plan(env, credentials, endpoints=endpoints)
    else:
        size = int(env.get("HELPDESK_CLUSTER_SIZE") or CLUSTER_SIZE)
        services = cluster_plan(env, credentials, endpoints, size=size)
    env_file = write_env_file(env, args.folder / "helpdesk.env")
    for name, text in systemd_units(env, services, env_file=env_file, user=args.user).items():
        (args.folder / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(services) + 1} units and {env_file} (mode 0600) to {args.folder}")
    print(
        "install: cp them to /etc/systemd/system/, systemctl daemon-reload, "
        "systemctl enable --now helpdesk.target"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
