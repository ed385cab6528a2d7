"""Run the test stories in tests/e2e against the trained model and a live action server.

The action server (started by `Stack`) gets a throw-away ticket database and FAQ index, so
tests never touch var/, and calls the backend simulator with the shipped fixtures.
Exits non-zero when any story fails (rasa's --fail-on-prediction-errors).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Run as `python scripts/test_stories.py`: the repository root, for `tests.support`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.stack import BIN, MODEL, ROOT, Stack, StackError  # noqa: E402


def main() -> int:
    if not MODEL.is_file():
        print(f"error: no trained model at {MODEL}; run `make train`", file=sys.stderr)
        return 2
    try:
        with Stack() as stack:
            out = ROOT / "results" / "stories"
            result = subprocess.run(
                [
                    str(BIN / "rasa"),
                    "test",
                    "core",
                    "--model",
                    str(MODEL),
                    "--stories",
                    "tests/e2e",
                    "--endpoints",
                    str(stack.endpoints_file),
                    "--out",
                    str(out),
                    "--fail-on-prediction-errors",
                ],
                cwd=ROOT,
                env=stack.env,
                check=False,
            )
            failed = out / "failed_test_stories.yml"
            if failed.is_file() and "story:" in failed.read_text():
                print(failed.read_text(), file=sys.stderr)
            if result.returncode != 0:
                print("--- action server log (tail) ---", file=sys.stderr)
                print(stack.log_tail("actions"), file=sys.stderr)
            return result.returncode
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
