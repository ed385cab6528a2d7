"""PostgreSQL and Redis for scale-out and its tests, on this machine (`make engines`).

    .venv/bin/python scripts/engines.py up      # install when missing (root), start, print URLs
    .venv/bin/python scripts/engines.py env     # the URLs as shell assignments
    .venv/bin/python scripts/engines.py status  # is each engine answering?
    .venv/bin/python scripts/engines.py down    # stop both

When `HELPDESK_TEST_POSTGRES_URL` (an admin URL: it may create and drop databases) or
`HELPDESK_TEST_REDIS_URL` is set, that engine is used as it is: nothing is installed or started.

Otherwise the Debian packages (postgresql, redis-server) are installed when a binary is missing
and the process runs as root (`apt-get update` first), and the project's own instances are
started on loopback, apart from any system service:

* PostgreSQL: a cluster in `ENGINES_DIR/pg` (`initdb`; run as the `postgres` system user when
  root, since the server refuses to run as root), port `PG_PORT`, host connections with
  scram-sha-256 only; a login role `helpdesk` with a random password (kept in
  `ENGINES_DIR/credentials.json`, mode 0600) that may create databases, and its database
  `helpdesk`.
* Redis: port `REDIS_PORT`, bound to 127.0.0.1, protected by a random password, no persistence
  (it holds Rasa's locks and short-lived claims).

`ENGINES_DIR` is under /var/tmp (not the checkout: the `postgres` user must be able to reach it).
Both engines keep running after this script ends; `down` stops them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ENGINES_DIR = Path(os.environ.get("HELPDESK_ENGINES_DIR", "/var/tmp/helpdesk-engines"))
PG_PORT = int(os.environ.get("HELPDESK_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("HELPDESK_REDIS_PORT", "63799"))
PG_PACKAGES = ["postgresql"]
REDIS_PACKAGES = ["redis-server"]


class EngineError(RuntimeError):
    """An engine could not be installed or started; the message says what to do."""


@dataclass(frozen=True)
class Urls:
    """Where the engines answer."""

    postgres: str
    redis: str

    def shell(self) -> str:
        return f"HELPDESK_TEST_POSTGRES_URL={self.postgres}\nHELPDESK_TEST_REDIS_URL={self.redis}\n"


# --- finding and installing binaries ------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def install(packages: Sequence[str]) -> None:
    """`apt-get install` the Debian packages (as root), after `apt-get update`."""
    if not _is_root():
        raise EngineError(
            f"missing {', '.join(packages)}: as root run "
            f"`apt-get update && apt-get install -y {' '.join(packages)}`, or set "
            "HELPDESK_TEST_POSTGRES_URL / HELPDESK_TEST_REDIS_URL to engines you run"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    # Debian starts a package's system service on install (a PostgreSQL cluster on 5432, nginx
    # on port 80); the project runs its own instances, so the services are kept from starting.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# helpdesk scripts/engines.py: no service starts\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
        )
    finally:
        if ours:
            policy.unlink(missing_ok=True)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_port(port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.2)
    raise EngineError(f"{what} did not answer on 127.0.0.1:{port} within {seconds:.0f} s")


# --- credentials --------------------------------------------------------------------------


def _credentials() -> dict[str, str]:
    """The engines' passwords, made once and kept in ENGINES_DIR/credentials.json (0600)."""
    path = ENGINES_DIR / "credentials.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    ENGINES_DIR.mkdir(parents=True, exist_ok=True)
    ENGINES_DIR.chmod(0o755)
    values = {"postgres": secrets.token_urlsafe(18), "redis": secrets.token_urlsafe(18)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(values, out)
    return values


def urls() -> Urls:
    """The URLs of the engines in use (given ones win)."""
    given_pg = os.environ.get("HELPDESK_TEST_POSTGRES_URL")
    given_redis = os.environ.get("HELPDESK_TEST_REDIS_URL")
    if given_pg and given_redis:
        return Urls(given_pg, given_redis)
    creds = _credentials()
    return Urls(
        given_pg or f"postgresql://helpdesk:{creds['postgres']}@127.0.0.1:{PG_PORT}/helpdesk",
        given_redis or f"redis://:{creds['redis']}@127.0.0.1:{REDIS_PORT}/0",
    )


# --- PostgreSQL ---------------------------------------------------------------------------


def _as_server_user(command: list[str]) -> list[str]:
    """Runs `command` as the `postgres` system user when we are root (the server refuses root)."""
    if not _is_root():
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _pg_dir() -> Path:
    return ENGINES_DIR / "pg"


def start_postgres() -> None:
    """Initialises (once) and starts the project's PostgreSQL cluster; creates role and db."""
    if os.environ.get("HELPDESK_TEST_POSTGRES_URL"):
        return
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        install(PG_PACKAGES)
    initdb, pg_ctl, psql = _pg_bin("initdb"), _pg_bin("pg_ctl"), shutil.which("psql")
    if not (initdb and pg_ctl and psql):
        raise EngineError("PostgreSQL's initdb, pg_ctl or psql is still missing after install")
    data = _pg_dir() / "data"
    password = _credentials()["postgres"]
    if not (data / "PG_VERSION").exists():
        _pg_dir().mkdir(parents=True, exist_ok=True)
        if _is_root():
            shutil.chown(_pg_dir(), "postgres", "postgres")
        subprocess.run(
            _as_server_user(
                [
                    initdb,
                    "-D",
                    str(data),
                    "--username=postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not _port_open(PG_PORT):
        subprocess.run(
            _as_server_user(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(_pg_dir() / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {_pg_dir()} "
                    "-c max_connections=200 -c fsync=off -c synchronous_commit=off",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    _wait_port(PG_PORT, 60, "PostgreSQL")
    sql = (
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'helpdesk') THEN "
        f"CREATE ROLE helpdesk LOGIN CREATEDB PASSWORD '{password}'; "
        f"ELSE ALTER ROLE helpdesk LOGIN CREATEDB PASSWORD '{password}'; END IF; END $$; "
        # DROP DATABASE ... WITH (FORCE) of a test database ends every session in it,
        # autovacuum's included, which needs this role.
        "GRANT pg_signal_backend TO helpdesk;"
    )
    base = [
        psql,
        "-h",
        str(_pg_dir()),
        "-p",
        str(PG_PORT),
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
    ]
    subprocess.run(_as_server_user([*base, "-qc", sql]), check=True, stdout=subprocess.DEVNULL)
    exists = subprocess.run(
        _as_server_user([*base, "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'helpdesk'"]),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(
            _as_server_user([*base, "-qc", "CREATE DATABASE helpdesk OWNER helpdesk"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )


def stop_postgres() -> None:
    pg_ctl = _pg_bin("pg_ctl")
    data = _pg_dir() / "data"
    if pg_ctl and (data / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )


# --- Redis --------------------------------------------------------------------------------


def start_redis() -> None:
    """Starts the project's Redis (no persistence, loopback, password)."""
    if os.environ.get("HELPDESK_TEST_REDIS_URL"):
        return
    if not shutil.which("redis-server"):
        install(REDIS_PACKAGES)
    server = shutil.which("redis-server")
    if not server:
        raise EngineError("redis-server is still missing after install")
    if _port_open(REDIS_PORT):
        return
    folder = ENGINES_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "redis.conf"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(
            f"port {REDIS_PORT}\nbind 127.0.0.1\nprotected-mode yes\n"
            f"requirepass {_credentials()['redis']}\ndaemonize yes\n"
            f"pidfile {folder / 'redis.pid'}\nlogfile {folder / 'redis.log'}\n"
            f'dir {folder}\nsave ""\nappendonly no\n'
        )
    subprocess.run([server, str(config)], check=True)
    _wait_port(REDIS_PORT, 30, "Redis")


def stop_redis() -> None:
    pid_file = ENGINES_DIR / "redis" / "redis.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError):
        os.kill(int(pid_file.read_text().strip()), 15)
    pid_file.unlink(missing_ok=True)


# --- checks -------------------------------------------------------------------------------


def check(found: Urls) -> dict[str, str]:
    """Connects to each engine with the project's own clients; "ok" or the error, by engine."""
    from redis import Redis
    from sqlalchemy import create_engine, text

    report: dict[str, str] = {}
    try:
        engine = create_engine(found.postgres, future=True)
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        report["postgres"] = f"ok (PostgreSQL {version})"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report["postgres"] = f"not answering: {exc.__class__.__name__}: {exc}"
    try:
        client = Redis.from_url(found.redis, socket_timeout=2)
        info = client.info("server")
        report["redis"] = f"ok (Redis {info.get('redis_version')})"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report["redis"] = f"not answering: {exc.__class__.__name__}: {exc}"
    return report


def masked_url(url: str) -> str:
    """A database or Redis URL fit to print: its password replaced by ***. Anything that is
    not a URL (a description such as "SQLite in var/") is returned as it is."""
    from sqlalchemy.engine import make_url

    if "://" not in url:
        return url
    scheme = url.split("://", 1)[0]
    if scheme in {"redis", "rediss"}:
        return f"{scheme}://:***@" + url.split("@", 1)[1] if "@" in url else url
    return make_url(url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "env", "status"])
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            start_postgres()
            start_redis()
        elif args.command == "down":
            stop_redis()
            stop_postgres()
            print("engines stopped")
            return 0
        found = urls()
        if args.command == "env":
            sys.stdout.write(found.shell())
            return 0
        report = check(found)
        for name, state in report.items():
            url = found.postgres if name == "postgres" else found.redis
            print(f"{name:9} {masked_url(url)}  {state}")
        if args.command == "up":
            print(f"URLs with passwords: `{Path(sys.argv[0]).name} env` (or {ENGINES_DIR})")
        return 0 if all(state.startswith("ok") for state in report.values()) else 1
    except (EngineError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
