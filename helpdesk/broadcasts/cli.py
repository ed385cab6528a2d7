"""`helpdesk broadcast run|create|status`: broadcasts for operators (supervisors use the desk).

The desk (`helpdesk desk serve`) runs the sender beside its worker when WhatsApp is
configured; `helpdesk broadcast run` runs it alone (one leader sends when several run).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import signal
import sys
import threading
from typing import Any


def _services() -> Any:
    from helpdesk.services import get_services

    return get_services()


def _cmd_run(args: argparse.Namespace) -> int:
    from helpdesk.broadcasts.sender import build_sender
    from helpdesk.cli import CliError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sender = build_sender(_services(), interval=args.interval)
    if sender is None:
        raise CliError(
            "WhatsApp is not configured (WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID)"
        )
    if args.once:
        print(json.dumps(dataclasses.asdict(sender.run_once())), flush=True)
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    sender.start()
    print("broadcast sender running", flush=True)
    stop.wait()
    sender.stop()
    return 0


def _cmd_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from helpdesk.broadcasts.service import BroadcastError
    from helpdesk.cli import CliError

    service = _services().broadcasts
    try:
        upload = service.create(
            name=args.name,
            template_name=args.template,
            data=Path(args.csv).read_bytes(),
            consent_note=args.consent,
            created_by=f"cli:{getpass.getuser()}",
        )
        if args.send:
            service.send_now(upload.broadcast.id)
    except BroadcastError as exc:
        raise CliError(str(exc)) from exc
    for problem in upload.problems:
        print(f"line {problem.line}: {problem.reason}", file=sys.stderr)
    print(
        json.dumps(
            {
                "id": upload.broadcast.id,
                "recipients": upload.recipients,
                "left_out": upload.problem_count,
                "duplicates": upload.duplicates,
                "status": service.get(upload.broadcast.id).status,
            }
        )
    )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    service = _services().broadcasts
    broadcast = service.get(args.id)
    print(
        json.dumps(
            {"id": broadcast.id, "status": broadcast.status, "totals": service.totals(args.id)}
        )
    )
    return 0


def add_broadcast_parser(subparsers: Any) -> None:
    """Add `helpdesk broadcast run|create|status`."""
    parser = subparsers.add_parser(
        "broadcast", help="WhatsApp broadcasts: run the sender, create, status"
    )
    sub = parser.add_subparsers(dest="broadcast_command", metavar="{run,create,status}")
    sub.required = True
    run = sub.add_parser("run", help="send the due broadcasts (until Ctrl-C)")
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    run.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    run.set_defaults(func=_cmd_run)
    create = sub.add_parser("create", help="a broadcast from a CSV of recipients (a draft)")
    create.add_argument("--name", required=True)
    create.add_argument("--template", required=True, help="an approved template's name")
    create.add_argument("--csv", required=True, help="the recipients (phone, name, variables)")
    create.add_argument("--consent", required=True, help="how the recipients opted in")
    create.add_argument("--send", action="store_true", help="send it now (not a draft)")
    create.set_defaults(func=_cmd_create)
    status = sub.add_parser("status", help="a broadcast's status and totals (JSON)")
    status.add_argument("id", type=int)
    status.set_defaults(func=_cmd_status)
