"""Run the test stories in tests/e2e against the trained model and a live action server.

The action server gets a throw-away ticket database and FAQ index, so tests never touch var/,
and calls the backend simulator (`helpdesk backend serve`) with the shipped fixtures.
Exits non-zero when any story fails (rasa's --fail-on-prediction-errors).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

from servers import free_port, wait_http  # noqa: E402


def main() -> int:
    model = ROOT / "models" / "helpdesk.tar.gz"
    if not model.is_file():
        print(f"error: no trained model at {model}; run `make train`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="helpdesk-stories-") as tmp:
        port, backend_port = free_port(), free_port()
        env = dict(os.environ)
        env.update(
            HELPDESK_VAR_DIR=tmp,
            HELPDESK_DATABASE_URL=f"sqlite:///{tmp}/helpdesk.db",
            HELPDESK_BACKEND_URL=f"http://127.0.0.1:{backend_port}",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        for name in ("SMTP_HOST", "HELPDESK_BACKEND_API_KEY", "HELPDESK_BACKEND_FIXTURES"):
            env.pop(name, None)
        endpoints = Path(tmp) / "endpoints.yml"
        endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{port}/webhook\n")
        log = open(Path(tmp) / "actions.log", "w")  # noqa: SIM115 - closed below
        backend = subprocess.Popen(
            [str(BIN / "helpdesk"), "backend", "serve", "--port", str(backend_port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = subprocess.Popen(
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_http(f"http://127.0.0.1:{backend_port}/v1/health", backend, 30):
                log.flush()
                print((Path(tmp) / "actions.log").read_text(), file=sys.stderr)
                print("error: backend simulator did not start", file=sys.stderr)
                return 1
            if not wait_http(f"http://127.0.0.1:{port}/health", server, 120):
                log.flush()
                print((Path(tmp) / "actions.log").read_text(), file=sys.stderr)
                print("error: action server did not start", file=sys.stderr)
                return 1
            out = ROOT / "results" / "stories"
            result = subprocess.run(
                [
                    str(BIN / "rasa"),
                    "test",
                    "core",
                    "--model",
                    str(model),
                    "--stories",
                    "tests/e2e",
                    "--endpoints",
                    str(endpoints),
                    "--out",
                    str(out),
                    "--fail-on-prediction-errors",
                ],
                cwd=ROOT,
                env=env,
                check=False,
            )
            failed = out / "failed_test_stories.yml"
            if failed.is_file() and "story:" in failed.read_text():
                print(failed.read_text(), file=sys.stderr)
            if result.returncode != 0:
                log.flush()
                print("--- action server log (tail) ---", file=sys.stderr)
                print((Path(tmp) / "actions.log").read_text()[-4000:], file=sys.stderr)
            return result.returncode
        finally:
            for proc in (server, backend):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


if __name__ == "__main__":
    sys.exit(main())
