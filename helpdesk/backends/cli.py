"""The `helpdesk backend` command group.

    helpdesk backend serve [--fixtures FILE.json] [--port 8081] [--host 127.0.0.1]
                           [--slow-seconds 10]

`serve` runs the backend simulator (`docs/backend-api.yaml`) until SIGTERM or Ctrl-C. The
fixtures file defaults to `HELPDESK_BACKEND_FIXTURES`, else the shipped
`helpdesk/backends/fixtures.json`; the API key is `HELPDESK_BACKEND_API_KEY` (none: no check).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from helpdesk.cli import CliError


def _cmd_backend_serve(args: argparse.Namespace) -> int:
    from helpdesk.backends.fixtures import DEFAULT_FIXTURES_PATH, FixturesError, load_fixtures
    from helpdesk.backends.simulator import SimulatorServer, serve
    from helpdesk.settings import get_settings

    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be 0 to 65535, not {args.port}")
    if args.slow_seconds < 0:
        raise CliError(f"--slow-seconds must be >= 0, not {args.slow_seconds:g}")
    settings = get_settings()
    if args.fixtures:
        path = Path(args.fixtures)
    elif settings.backend_fixtures is not None:
        path = settings.backend_fixtures
    else:
        path = DEFAULT_FIXTURES_PATH
    try:
        fixtures = load_fixtures(path)
    except FixturesError as exc:
        raise CliError(str(exc)) from exc
    api_key = settings.backend_api_key or None

    def announce(server: SimulatorServer) -> None:
        key = "X-API-Key required" if api_key else "no API key"
        print(
            f"Backend simulator on {server.url} ({fixtures.summary()} from {path}; {key})",
            flush=True,
        )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        serve(
            fixtures,
            host=args.host,
            port=args.port,
            api_key=api_key,
            slow_seconds=args.slow_seconds,
            on_start=announce,
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    return 0


def add_backend_parser(subparsers: argparse._SubParsersAction) -> None:
    """The `backend` command group."""
    backend = subparsers.add_parser("backend", help="backend API: run the simulator")
    backend_sub = backend.add_subparsers(dest="backend_command", metavar="{serve}")
    backend_sub.required = True

    serve = backend_sub.add_parser(
        "serve", help="serve docs/backend-api.yaml from a fixtures file (until Ctrl-C)"
    )
    serve.add_argument(
        "--fixtures",
        help="fixtures JSON file (default: HELPDESK_BACKEND_FIXTURES, else the shipped one)",
    )
    serve.add_argument("--port", type=int, default=8081, help="port (default 8081; 0: any free)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument(
        "--slow-seconds",
        type=float,
        default=10.0,
        help='delay of records with "simulate": "slow" (default 10)',
    )
    serve.set_defaults(func=_cmd_backend_serve)
