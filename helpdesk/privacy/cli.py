"""`helpdesk privacy purge [--dry-run] [--batch N]` and `helpdesk privacy map`.

`purge` deletes or anonymises, in every store, what is past its retention period (the
profile's `privacy.retention_days`), a batch a transaction, and records the run in the audit
trail; with `--dry-run` it only says what it would do. `map` prints the data map with the
periods in force.
"""

from __future__ import annotations

import getpass
from typing import Any

from helpdesk.privacy.policy import DATA_MAP


def _services() -> Any:
    from helpdesk.services import Services
    from helpdesk.settings import Settings

    return Services(Settings.from_env())


def _table(lines: list[Any], tz: Any, verb: str) -> str:
    rows = [("store", "action", "kept (days)", "older than", verb)]
    for line in lines:
        rows.append(
            (
                line.store,
                line.disposal.value,
                str(line.days) if line.days else "kept",
                line.cutoff.astimezone(tz).strftime("%Y-%m-%d %H:%M") if line.cutoff else "-",
                str(line.count),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _cmd_purge(args: Any) -> int:
    if args.batch < 1:
        raise ValueError("--batch must be at least 1")
    services = _services()
    retention = services.retention
    tz = services.settings.tz
    if args.dry_run:
        lines = retention.plan()
        print(_table(lines, tz, "would go"))
        print(f"dry run: {sum(line.count for line in lines)} record(s) would be dealt with")
        return 0
    lines = retention.run(batch=args.batch)
    services.audit.record(
        f"cli:{getpass.getuser()}",
        "privacy.purge",
        result="ok",
        detail={line.store: line.count for line in lines if line.count},
    )
    print(_table(lines, tz, "dealt with"))
    print(f"{sum(line.count for line in lines)} record(s) deleted or anonymised")
    return 0


def _cmd_map(args: Any) -> int:
    policy = _services().settings.profile.retention
    for store in DATA_MAP:
        days = policy.days.get(store.key, 0)
        kept = f"{days} days" if days else "kept"
        print(
            f"{store.key:16} {store.disposal.value:9} {kept:10} {store.place}: {store.data_class}"
        )
    return 0


def add_privacy_parser(subparsers: Any) -> None:
    """Add `helpdesk privacy` to the `helpdesk` command (see helpdesk.cli)."""
    privacy = subparsers.add_parser("privacy", help="personal data: retention, the data map")
    sub = privacy.add_subparsers(dest="privacy_command", metavar="SUBCOMMAND")
    sub.required = True
    purge = sub.add_parser("purge", help="delete or anonymise what is past its retention period")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be done")
    purge.add_argument("--batch", type=int, default=500, help="records a transaction (500)")
    purge.set_defaults(func=_cmd_purge)
    show = sub.add_parser("map", help="the data map with the retention periods in force")
    show.set_defaults(func=_cmd_map)
