"""A throw-away copy of the running assistant for end-to-end tests.

`Stack` starts the backend simulator, the action server and (optionally) the Rasa server, the
idle sweeper and the agent desk on free ports, with a temporary var dir (ticket database,
tracker store, FAQ index), and stops them all on exit. Each process starts exactly as `make
run` starts it: the command lines come from `run.plan`. Used by scripts/test_stories.py,
scripts/test_conversations.py, the live and the browser tests.

    with Stack(rasa=True) as stack:
        requests.post(stack.rest_url, json={"sender": "6281234567890", "message": "halo"})

`stack.stop("rasa")` / `stack.restart("rasa")` stop one process, or start it again on the same
port (restart tests of the handoff: tests/e2e_live/test_handoff_restart_live.py).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from helpdesk.knowledge.embedders import OPENMP_ENVIRONMENT
from scripts.run_plan import Service, plan, write_endpoints
from scripts.servers import free_port
from scripts.supervisor import spawn, wait_up
from tests.support.postgres import drop_database, run_autocommit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "helpdesk.tar.gz"

#: The FAQ index the stacks share, built before the first stack starts (as `make run` runs
#: `make index` before it starts anything): one build per test process, not one per stack.
SHARED_KB_INDEX = ROOT / "var" / "test_kb_index"
_built_indexes: set[tuple[str, str]] = set()

#: Credentials of the Rasa server in tests: REST and socket.io (web chat).
DEFAULT_CREDENTIALS = (ROOT / "credentials.yml").read_text(encoding="utf-8")


#: `postgres`: stacks keep the helpdesk store and Rasa's tracker store in PostgreSQL.
STACK_DB_ENV = "HELPDESK_TEST_STACK_DB"
#: An admin URL of the PostgreSQL server (a role that may create databases).
POSTGRES_URL_ENV = "HELPDESK_TEST_POSTGRES_URL"
REDIS_URL_ENV = "HELPDESK_TEST_REDIS_URL"


class StackError(RuntimeError):
    """A process of the stack did not start; the message holds the tail of its log."""


class Stack:
    """Backend simulator + action server (+ Rasa server) on free ports in a temp directory.

    Args:
        rasa: Also start the Rasa server (needs the trained model `models/helpdesk.tar.gz`).
        desk: Also start the agent desk with its worker (needs `rasa`; an API token is made up
            when the environment has none).
        sweeper: Also start the idle sweeper (needs `rasa`; an API token is made up when the
            environment has none). Tests of the sweeper itself run their own instead.
        fixtures: Fixtures file of the simulator (default: the shipped one).
        env: Extra environment variables for every process.
        credentials: credentials.yml content of the Rasa server.
    """

    def __init__(
        self,
        *,
        rasa: bool = False,
        desk: bool = False,
        sweeper: bool = False,
        fixtures: Path | None = None,
        env: Mapping[str, str] | None = None,
        credentials: str = DEFAULT_CREDENTIALS,
    ) -> None:
        if (desk or sweeper) and not rasa:
            raise ValueError("the agent desk and the sweeper need the Rasa server (rasa=True)")
        self.with_rasa = rasa
        self.with_desk = desk
        self.with_sweeper = sweeper
        self.fixtures = fixtures
        self.extra_env = dict(env or {})
        self.credentials = credentials
        self.procs: list[tuple[str, subprocess.Popen]] = []
        #: How each process was started, for `restart`.
        self._specs: dict[str, Service] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.dir = Path()
        self.backend_port = self.actions_port = self.rasa_port = self.desk_port = 0
        self.env: dict[str, str] = {}
        self._postgres_databases: list[str] = []

    # -- URLs ---------------------------------------------------------------------------------
    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.desk_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def endpoints_file(self) -> Path:
        return self.dir / "endpoints.yml"

    @property
    def actions_headers(self) -> dict[str, str]:
        """The headers the Rasa server sends the action server (its token): for tests that
        call the action server themselves."""
        return {"Authorization": f"Bearer {self.env['RASA_ACTIONS_TOKEN']}"}

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Stack":
        self._tmp = tempfile.TemporaryDirectory(prefix="helpdesk-stack-")
        self.dir = Path(self._tmp.name)
        self.backend_port, self.actions_port, self.rasa_port = free_port(), free_port(), free_port()
        self.desk_port = free_port()
        env = dict(os.environ)
        for name in ("SMTP_HOST", "HELPDESK_BACKEND_API_KEY", "HELPDESK_BACKEND_FIXTURES"):
            env.pop(name, None)
        env.update(
            HELPDESK_VAR_DIR=str(self.dir),
            HELPDESK_DATABASE_URL=f"sqlite:///{self.dir}/helpdesk.db",
            HELPDESK_BACKEND_URL=self.backend_url,
            HELPDESK_BACKEND_SIMULATOR="true",
            HELPDESK_BACKEND_PORT=str(self.backend_port),
            ACTION_ENDPOINT_URL=self.actions_url,
            RASA_ACTIONS_PORT=str(self.actions_port),
            RASA_PORT=str(self.rasa_port),
            RASA_TRACKER_STORE_URL="",
            HELPDESK_REST_TOKEN="",
            HELPDESK_SAKTI_CHANNELS="whatsapp",
            RASA_TRACKER_DB=str(self.dir / "tracker.db"),
            TF_CPP_MIN_LOG_LEVEL="3",
            **OPENMP_ENVIRONMENT,
            SANIC_WORKERS="1",
            RASA_URL=self.rasa_url,
            HELPDESK_DESK_HOST="127.0.0.1",
            HELPDESK_DESK_PORT=str(self.desk_port),
            HELPDESK_SWEEPER_HOST="127.0.0.1",
            HELPDESK_SWEEPER_PORT=str(free_port()),
        )
        if (self.with_desk or self.with_sweeper) and not env.get("RASA_API_TOKEN"):
            env["RASA_API_TOKEN"] = "stack-api-token"
        # Every stack runs authenticated, as `make run` does: a fresh action-server token, the
        # action server on loopback (`env=` may override both, e.g. to test a missing token).
        env.update(RASA_ACTIONS_TOKEN=secrets.token_urlsafe(24), RASA_ACTIONS_HOST="127.0.0.1")
        env.update(self._databases())
        env.update(self.extra_env)
        if self.fixtures:
            env["HELPDESK_BACKEND_FIXTURES"] = str(self.fixtures)
        self.env = env
        self._prepare_index()
        # For `rasa test` (scripts/test_stories.py); Rasa expands the token from `self.env`.
        self.endpoints_file.write_text(
            "action_endpoint:\n"
            f"  url: {self.actions_url}\n"
            "  headers:\n"
            "    Authorization: Bearer ${RASA_ACTIONS_TOKEN}\n"
        )
        try:
            self._start_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _databases(self) -> dict[str, str]:
        """With `HELPDESK_TEST_STACK_DB=postgres`, a fresh PostgreSQL database each for the
        helpdesk store and Rasa's tracker store, on the server `HELPDESK_TEST_POSTGRES_URL`
        names (`make engines`), dropped again on exit, and Rasa's lock store in the Redis
        `HELPDESK_TEST_REDIS_URL` names. Otherwise SQLite files in `self.dir`."""
        if os.environ.get(STACK_DB_ENV, "sqlite") != "postgres":
            return {}
        admin = os.environ.get(POSTGRES_URL_ENV)
        if not admin:
            raise StackError(f"{STACK_DB_ENV}=postgres needs {POSTGRES_URL_ENV} (`make engines`)")
        stem = f"stack_{secrets.token_hex(5)}"
        urls = {}
        for variable, suffix in (
            ("HELPDESK_DATABASE_URL", "store"),
            ("RASA_TRACKER_STORE_URL", "tracker"),
        ):
            name = f"{stem}_{suffix}"
            run_autocommit(admin, f"CREATE DATABASE {name}")
            self._postgres_databases.append(name)
            urls[variable] = (
                make_url(admin).set(database=name).render_as_string(hide_password=False)
            )
        redis = os.environ.get(REDIS_URL_ENV)
        if redis:  # Rasa's Redis lock store too, as a cluster runs it (keys apart per stack)
            urls.update(HELPDESK_REDIS_URL=redis, HELPDESK_REDIS_KEY_PREFIX=stem.replace("_", ""))
        return urls

    def _prepare_index(self) -> None:
        """Build (or find up to date) the FAQ index the action server will load, before it
        starts, with `helpdesk kb build` as `make index` does; a stack given its own
        HELPDESK_KB_INDEX in `env` gets that one."""
        profile = self.env.get("HELPDESK_PROFILE") or "djpb"
        shared = (
            SHARED_KB_INDEX
            if profile == "djpb"
            else SHARED_KB_INDEX.with_name(f"{SHARED_KB_INDEX.name}_{Path(profile).name}")
        )  # each organisation's knowledge base its own index
        self.env.setdefault("HELPDESK_KB_INDEX", str(shared))
        key = (self.env.get("HELPDESK_KB_SOURCE", ""), self.env["HELPDESK_KB_INDEX"])
        if key in _built_indexes:
            return
        done = subprocess.run(
            [str(BIN / "helpdesk"), "kb", "build"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise StackError(
                f"helpdesk kb build failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        _built_indexes.add(key)

    def _start_all(self) -> None:
        credentials = self.dir / "credentials.yml"
        credentials.write_text(self.credentials)
        endpoints = write_endpoints(self.env, self.dir)
        services = {
            s.name: s for s in plan(self.env, credentials, endpoints=endpoints, model=MODEL)
        }
        wanted = ["backend", "actions"]
        if self.with_rasa:
            if not MODEL.is_file():
                raise StackError(f"no trained model at {MODEL}; run `make train`")
            wanted.append("rasa")
            wanted += ["sweeper"] if self.with_sweeper else []
            wanted += ["desk"] if self.with_desk else []
        for name in wanted:
            self._start(services[name])

    def _start(self, service: Service, *, append: bool = False) -> None:
        proc = spawn(service, self.env, self.dir, console=False, append=append)
        self._specs[service.name] = service
        names = [n for n, _ in self.procs]
        if service.name in names:  # restarted: keep its place (processes stop in reverse order)
            self.procs[names.index(service.name)] = (service.name, proc)
        else:
            self.procs.append((service.name, proc))
        if not wait_up(service, proc):
            raise StackError(f"{service.name} did not start:\n{self.log_tail(service.name)}")

    def stop(self, name: str, timeout: float = 20) -> None:
        """Stop one process (`backend`, `actions`, `rasa`, `sweeper` or `desk`): SIGTERM, then
        SIGKILL after `timeout` seconds. The others keep running; `restart(name)` starts it
        again."""
        proc = dict(self.procs)[name]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, name: str) -> None:
        """Stop one process (if still running) and start it again with the same arguments,
        port and environment, waiting for its health URL (its log is appended to).

        Raises:
            StackError: When it does not come back up.
        """
        self.stop(name)
        self._start(self._specs[name], append=True)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        """The end of a process's log (`backend`, `actions`, `rasa`, `sweeper` or `desk`)."""
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.is_file() else ""

    def __exit__(self, *exc: object) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        admin = os.environ.get(POSTGRES_URL_ENV)
        while self._postgres_databases and admin:
            name = self._postgres_databases.pop()
            try:
                drop_database(admin, name)
            except DBAPIError as exc:
                print(f"warning: could not drop {name}: {exc}", file=sys.stderr)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
