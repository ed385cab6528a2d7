"""`helpdesk audit verify [--anchor HASH | --file EXPORT]` and `helpdesk audit export --out FILE`.

`verify` walks the chain in the database (or in an export file, off the database) and exits
1 naming the first broken record; `export` writes the records as JSON lines for an auditor,
and the export is itself recorded in the trail.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from helpdesk.reports.cli import parse_day

#: Exit status of `verify` when the chain is broken.
EXIT_BROKEN = 1


def _services() -> Any:
    from helpdesk.services import Services
    from helpdesk.settings import Settings

    return Services(Settings.from_env())


def _cmd_verify(args: Any) -> int:
    from helpdesk.security.audit import read_export, verify_records

    if args.file:
        with open(args.file, encoding="utf-8") as stream:
            result = verify_records(read_export(stream), anchor=args.anchor)
    else:
        result = _services().audit.verify(anchor=args.anchor)
    print(result.describe())
    return 0 if result.ok else EXIT_BROKEN


def _cmd_export(args: Any) -> int:
    from helpdesk.storage.audit import AuditFilter

    services = _services()
    tz = services.settings.tz
    where = AuditFilter(
        actor=args.actor or "",
        action=args.action or "",
        since=parse_day(args.since, tz, end=False) if args.since else None,
        until=parse_day(args.until, tz, end=True) if args.until else None,
    )
    with open(args.out, "w", encoding="utf-8") as stream:
        count = services.audit.export(stream, where)
    services.audit.record(
        f"cli:{getpass.getuser()}",
        "audit.export",
        result="ok",
        detail={"records": count, "action": where.action, "actor": where.actor},
    )
    print(f"{count} audit records written to {args.out}", file=sys.stderr)
    return 0


def add_audit_parser(subparsers: Any) -> None:
    """Add `helpdesk audit` to the `helpdesk` command (see helpdesk.cli)."""
    audit = subparsers.add_parser("audit", help="the audit trail: verify the chain, export it")
    sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    sub.required = True
    verify = sub.add_parser("verify", help="check that no record was altered, removed or added")
    verify.add_argument(
        "--anchor", metavar="HASH", help="a head hash kept from an earlier check: must be found"
    )
    verify.add_argument("--file", metavar="EXPORT", help="check an export file, not the database")
    verify.set_defaults(func=_cmd_verify)
    export = sub.add_parser("export", help="write the records as JSON lines for an auditor")
    export.add_argument("--out", required=True, metavar="FILE", help="where to write")
    export.add_argument(
        "--action", help="only actions starting with this (e.g. lookup, desk.admin)"
    )
    export.add_argument("--actor", help="only this actor (e.g. desk:siti)")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="first day (helpdesk time zone)")
    export.add_argument("--until", metavar="YYYY-MM-DD", help="last day, inclusive")
    export.set_defaults(func=_cmd_export)
