"""A throw-away copy of the running assistant for end-to-end tests.

`Stack` starts the backend simulator, the action server and (optionally) the Rasa server on
free ports, with a temporary var dir (ticket database, tracker store, FAQ index), and stops
them all on exit. Used by scripts/test_stories.py, scripts/test_conversations.py and the web
chat test in Chromium.

    with Stack(rasa=True) as stack:
        requests.post(stack.rest_url, json={"sender": "6281234567890", "message": "halo"})

`stack.stop("rasa")` / `stack.restart("rasa")` stop one process, or start it again on the same
port (restart tests of the handoff: tests/e2e_live/test_handoff_restart_live.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping

from servers import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "helpdesk.tar.gz"

#: Credentials of the Rasa server in tests: REST and socket.io (web chat).
DEFAULT_CREDENTIALS = (ROOT / "credentials.yml").read_text(encoding="utf-8")


class StackError(RuntimeError):
    """A process of the stack did not start; the message holds the tail of its log."""


class Stack:
    """Backend simulator + action server (+ Rasa server) on free ports in a temp directory.

    Args:
        rasa: Also start the Rasa server (needs the trained model `models/helpdesk.tar.gz`).
        desk: Also start the agent desk with its worker (needs `rasa`; an API token is made up
            when the environment has none).
        fixtures: Fixtures file of the simulator (default: the shipped one).
        env: Extra environment variables for every process.
        credentials: credentials.yml content of the Rasa server.
    """

    def __init__(
        self,
        *,
        rasa: bool = False,
        desk: bool = False,
        fixtures: Path | None = None,
        env: Mapping[str, str] | None = None,
        credentials: str = DEFAULT_CREDENTIALS,
    ) -> None:
        if desk and not rasa:
            raise ValueError("the agent desk needs the Rasa server (rasa=True)")
        self.with_rasa = rasa
        self.with_desk = desk
        self.fixtures = fixtures
        self.extra_env = dict(env or {})
        self.credentials = credentials
        self.procs: list[tuple[str, subprocess.Popen]] = []
        #: How each process was started (args, health URL, timeout), for `restart`.
        self._specs: dict[str, tuple[list[str], str, float]] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.dir = Path()
        self.backend_port = self.actions_port = self.rasa_port = self.desk_port = 0
        self.env: dict[str, str] = {}

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
            ACTION_ENDPOINT_URL=self.actions_url,
            RASA_TRACKER_STORE_URL="",
            RASA_TRACKER_DB=str(self.dir / "tracker.db"),
            TF_CPP_MIN_LOG_LEVEL="2",
            OMP_WAIT_POLICY="passive",
            SANIC_WORKERS="1",
            RASA_URL=self.rasa_url,
            HELPDESK_DESK_PORT=str(self.desk_port),
        )
        if self.with_desk and not env.get("RASA_API_TOKEN"):
            env["RASA_API_TOKEN"] = "stack-api-token"
        env.update(self.extra_env)
        self.env = env
        self.endpoints_file.write_text(f"action_endpoint:\n  url: {self.actions_url}\n")
        try:
            self._start_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_all(self) -> None:
        backend = [str(BIN / "helpdesk"), "backend", "serve", "--port", str(self.backend_port)]
        if self.fixtures:
            backend += ["--fixtures", str(self.fixtures)]
        self._start("backend", backend, f"{self.backend_url}/v1/health", 30)
        actions = [str(BIN / "rasa"), "run", "actions", "--actions", "actions"]
        self._start(
            "actions",
            [*actions, "--port", str(self.actions_port)],
            f"http://127.0.0.1:{self.actions_port}/health",
            120,
        )
        if not self.with_rasa:
            return
        if not MODEL.is_file():
            raise StackError(f"no trained model at {MODEL}; run `make train`")
        credentials = self.dir / "credentials.yml"
        credentials.write_text(self.credentials)
        endpoints = self.dir / "endpoints-rasa.yml"
        endpoints.write_text(
            (ROOT / "endpoints.yml").read_text().replace("${ACTION_ENDPOINT_URL}", self.actions_url)
        )
        self._start(
            "rasa",
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                str(MODEL),
                "--enable-api",
                *(
                    ["--auth-token", self.env["RASA_API_TOKEN"]]
                    if self.env.get("RASA_API_TOKEN")
                    else []
                ),
                "--port",
                str(self.rasa_port),
                "--credentials",
                str(credentials),
                "--endpoints",
                str(endpoints),
            ],
            f"{self.rasa_url}/",
            300,
        )
        if self.with_desk:
            self._start(
                "desk",
                [
                    str(BIN / "helpdesk"),
                    "desk",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.desk_port),
                ],
                f"{self.desk_url}/healthz",
                60,
            )

    def _start(
        self, name: str, args: list[str], health: str, timeout: float, *, append: bool = False
    ) -> None:
        mode = "a" if append else "w"
        log = open(self.dir / f"{name}.log", mode)  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._specs[name] = (args, health, timeout)
        names = [n for n, _ in self.procs]
        if name in names:  # restarted: keep its place (processes stop in reverse order)
            self.procs[names.index(name)] = (name, proc)
        else:
            self.procs.append((name, proc))
        if not wait_http(health, proc, timeout):
            raise StackError(f"{name} did not start:\n{self.log_tail(name)}")

    def stop(self, name: str, timeout: float = 20) -> None:
        """Stop one process (`backend`, `actions`, `rasa` or `desk`): SIGTERM, then SIGKILL
        after `timeout` seconds. The others keep running; `restart(name)` starts it again."""
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
        args, health, timeout = self._specs[name]
        self.stop(name)
        self._start(name, args, health, timeout, append=True)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        """The end of a process's log (`backend`, `actions`, `rasa` or `desk`)."""
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
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
