"""Start the assistant's processes, print where to reach them, stop them all on Ctrl-C.

Used by `make run` after the model is trained and the FAQ index is built. Reads `.env` (see
`.env.example`); every variable has a working default for a single machine.

The pieces: scripts/run_plan.py says which services start and how (`plan()`, the environment,
credentials.yml with the optional channels); scripts/supervisor.py starts them, prefixes their
output on the console (whole output in `var/log/<service>.log`) and, once everything is up,
restarts a process that exits after a back-off while the others keep running. Ctrl-C or
SIGTERM stops them all, with no restart during the shutdown.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # `python scripts/run.py`: the repository root, for `scripts.*`
    sys.path.insert(0, str(ROOT))

from scripts.cluster_plan import (  # noqa: E402
    CLUSTER_SIZE,
    cluster_environment,
    cluster_plan,
    cluster_summary_lines,
)
from scripts.engines import EngineError, masked_url  # noqa: E402
from scripts.run_plan import (  # noqa: E402
    build_environment,
    desk_url,
    local_address,
    plan,
    simulator_enabled,
    write_credentials,
    write_endpoints,
)
from scripts.servers import healthy  # noqa: E402
from scripts.supervisor import Supervisor, kill_group, say, spawn, stop, wait_up  # noqa: E402


def summary(env: Mapping[str, str], channels: list[str], cluster: str = "") -> str:
    """What `make run` prints once everything is up: where to reach each service (and, for
    `make run-cluster`, the `cluster` lines)."""
    base = f"http://localhost:{env['RASA_PORT']}"
    if simulator_enabled(env):
        fixtures = env.get("HELPDESK_BACKEND_FIXTURES") or "helpdesk/backends/fixtures.json"
        backend = f"simulator http://localhost:{env['HELPDESK_BACKEND_PORT']} ({fixtures})"
    else:
        backend = f"external, {env['HELPDESK_BACKEND_URL']}"
    store = masked_url(env.get("HELPDESK_DATABASE_URL") or f"SQLite in {env['HELPDESK_VAR_DIR']}")
    actions_host = local_address(env.get("RASA_ACTIONS_HOST") or "")
    actions_host = "localhost" if actions_host == "127.0.0.1" else actions_host
    actions = f"http://{actions_host}:{env['RASA_ACTIONS_PORT']}"
    demo_port = (env.get("HELPDESK_WIDGET_DEMO_PORT") or "").strip()
    demo = (
        f"  widget demo      http://localhost:{demo_port}/ (the chat widget on another site)\n"
        if demo_port and not cluster
        else ""
    )
    token = env.get("HELPDESK_REST_TOKEN")
    auth = ' -H "Authorization: Bearer $HELPDESK_REST_TOKEN"' if token else ""
    rest = (
        f"curl -s {base}/webhooks/rest/webhook{auth} -d "
        """'{"sender": "budi", "message": "apa itu sp2d?"}'"""
    )
    rest_access = (
        "bearer token required (HELPDESK_REST_TOKEN from .env)"
        if token
        else "this machine only; set HELPDESK_REST_TOKEN to let other clients in"
    )
    return (
        "\nThe assistant is running:\n"
        f"  REST channel     {rest}\n"
        f"                   ({rest_access})\n"
        f"  web chat         {base}/webhooks/webchat/\n"
        + demo
        + "".join(f"  {name:<16} {base}/webhooks/{name}/webhook\n" for name in channels)
        + f"  HTTP API         {base}/status?token={env['RASA_API_TOKEN']}\n"
        f"  action server    {actions}/health (only the Rasa server may call it: "
        "RASA_ACTIONS_TOKEN)\n"
        f"  backend services {backend}\n"
        f"  idle sweeper     closes conversations idle for "
        f"{env.get('HELPDESK_IDLE_SECONDS') or 300} s\n"
        f"  agent desk       {desk_url(env)}/ (first admin: HELPDESK_DESK_ADMIN_* in .env, or "
        "`.venv/bin/helpdesk desk create-admin --username admin`)\n"
        f"  ticket store     {store}\n"
        + cluster
        + f"  logs             {Path(env['HELPDESK_VAR_DIR']) / 'log'}/<service>.log\n"
        "Press Ctrl-C to stop.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the assistant (make run).")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="nginx in front of two of each server, on PostgreSQL and Redis (make run-cluster)",
    )
    args = parser.parse_args(argv)
    env = build_environment()
    var_dir = Path(env["HELPDESK_VAR_DIR"])
    size = 1
    if args.cluster:
        try:
            env = cluster_environment(env)
        except (EngineError, ValueError, subprocess.CalledProcessError) as exc:
            say(f"error: the cluster's engines: {exc}", error=True)
            return 1
    log_dir = var_dir / "log"
    supervisor = Supervisor(
        start=lambda service: spawn(service, env, log_dir, console=True, append=True),
        probe=lambda service: service.health is not None and healthy(service.health, 1),
        kill=kill_group,
        log_dir=log_dir,
    )
    # Ctrl-C (also when started from a script that ignores SIGINT) and SIGTERM stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    credentials, channels = write_credentials(env, var_dir)
    endpoints = write_endpoints(env, var_dir)
    stopping = threading.Event()
    try:
        if args.cluster:
            size = int(env.get("HELPDESK_CLUSTER_SIZE") or CLUSTER_SIZE)
            services = cluster_plan(env, credentials, endpoints, size=size)
        else:
            services = plan(env, credentials, endpoints=endpoints)
        for service in services:
            say(f"starting {service.label} ...")
            proc = spawn(service, env, log_dir, console=True)
            supervisor.watch(service, proc, up=False)
            if not wait_up(service, proc):
                say(
                    f"error: the {service.label} did not start; see above and "
                    f"{log_dir / (service.name + '.log')}",
                    error=True,
                )
                return 1
            supervisor.watch(service, proc)
            say(f"{service.label} is up (pid {proc.pid})")
        say(
            summary(env, channels, cluster=cluster_summary_lines(env, size) if args.cluster else "")
        )
        # From here on a signal only asks to stop: a restart under way is never cut in half
        # (a process started but not yet watched would outlive `make run`).
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        while not stopping.wait(1):
            supervisor.tick()
        say("\nCtrl-C: stopping all processes")
        return 0
    except KeyboardInterrupt:  # while starting
        say("\nCtrl-C: stopping all processes")
        return 0
    finally:
        stop(supervisor.processes())
        say("all processes stopped")


if __name__ == "__main__":
    sys.exit(main())
