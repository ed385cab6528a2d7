"""Start the Rasa server with its HTTP API token taken from the environment, not the command line.

    python scripts/rasa_server.py run --model models --enable-api --port 5005 ...

takes the same arguments as `rasa` and adds `--auth-token $RASA_API_TOKEN` in-process before
Rasa parses them. Any local user can read every process's command line (`ps`,
`/proc/<pid>/cmdline`, which keeps the arguments the process was started with); only the
process's owner can read its environment. `make run` (scripts/run.py `plan()`) starts the Rasa
server this way; no secret is on any command line of the assistant's processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

#: The environment variable holding the token of Rasa's HTTP API.
TOKEN_VARIABLE = "RASA_API_TOKEN"


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The argument vector Rasa parses: `rasa`, `args`, and the API token from `env` if any.

    Args:
        args: Rasa's arguments as given to this script (e.g. `run --enable-api ...`).
        env: The environment; its `RASA_API_TOKEN`, when set, becomes `--auth-token`.

    Raises:
        SystemExit: When `args` carry `--auth-token` themselves (it belongs in the environment).
    """
    if any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in args):
        raise SystemExit(
            f"error: pass the token in {TOKEN_VARIABLE}, not as --auth-token (command lines "
            "are visible to every user of the machine)"
        )
    argv = ["rasa", *args]
    token = (env.get(TOKEN_VARIABLE) or "").strip()
    if token:
        # One argument: a token may start with "-" (token_urlsafe), which argparse would take
        # for an option of its own.
        argv.append(f"--auth-token={token}")
    return argv


def main() -> None:
    # Run as the `rasa` command runs: this script's folder (the other scripts) is no place to
    # import from; Rasa puts the working directory, the project, on sys.path itself.
    if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.argv = rasa_argv(sys.argv[1:], os.environ)
    from rasa.__main__ import main as rasa_main

    if os.getcwd() not in sys.path:  # as Rasa adds it: the project's own packages
        sys.path.insert(1, os.getcwd())
    from components.rasa_speedups import release_memory_after_load

    release_memory_after_load()  # the memory the model load freed goes back to the system

    rasa_main()


if __name__ == "__main__":
    main()
