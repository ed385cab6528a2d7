"""`helpdesk desk ...`: run the agent desk and manage its accounts.

    helpdesk desk serve [--host 127.0.0.1] [--port 5060] [--no-worker]
    helpdesk desk create-admin --username U [--name N] [--password-stdin]
    helpdesk desk add-user --username U --role agent|supervisor|admin|knowledge [--name N]
                           [--division NAME] [--max-conversations 3] [--password-stdin]

There is never a default password: the first admin is made by `create-admin` (the password is
asked twice, or read from stdin), or at `serve` from HELPDESK_DESK_ADMIN_USERNAME and
HELPDESK_DESK_ADMIN_PASSWORD when no active admin exists yet.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import sys
from typing import TYPE_CHECKING, Any, Mapping

from helpdesk.security import logmask
from helpdesk.settings import Settings
from helpdesk.storage.desk_sessions import DeskSessionRepository
from helpdesk.storage.desk_users import DeskUserRecord, DuplicateNameError
from helpdesk.storage.enums import DeskRole
from helpdesk.storage.models import DESK_ROLES

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services

logger = logging.getLogger(__name__)

#: Environment variables that create the first admin when the desk starts without one.
ADMIN_USERNAME_ENV = "HELPDESK_DESK_ADMIN_USERNAME"
ADMIN_PASSWORD_ENV = "HELPDESK_DESK_ADMIN_PASSWORD"  # noqa: S105 - a variable name
ADMIN_NAME_ENV = "HELPDESK_DESK_ADMIN_NAME"
#: Default address and port of `helpdesk desk serve`.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5060

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class DeskCliError(ValueError):
    """A user error of a desk command (printed as one line, exit status 2)."""


def _services() -> "Services":
    from helpdesk.services import get_services

    return get_services()


def create_user(
    services: "Services",
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    division: str | None = None,
    max_conversations: int = 3,
) -> DeskUserRecord:
    """Create a desk user after checking the user name, role and password.

    Args:
        division: The division's name (must exist), or None.

    Raises:
        DeskCliError: Bad user name, role, password or division, or the user name is taken.
    """
    from helpdesk.desk.passwords import hash_password, password_problem

    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise DeskCliError(
            "username must be 3-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in DESK_ROLES:
        raise DeskCliError(f"role must be one of {', '.join(DESK_ROLES)}")
    problem = password_problem(password, username)
    if problem:
        raise DeskCliError(f"password refused: {problem}")
    if max_conversations < 1:
        raise DeskCliError("--max-conversations must be at least 1")
    division_id = None
    if division:
        wanted = division.strip().lower()
        found = [d for d in services.divisions.list()]
        match = next((d for d in found if d.name.lower() == wanted), None)
        if match is None:
            raise DeskCliError(f"no division named {division!r}")
        division_id = match.id
    try:
        return services.desk_users.create(
            username,
            (display_name or username).strip() or username,
            hash_password(password),
            role=role,
            division_id=division_id,
            max_conversations=max_conversations,
        )
    except DuplicateNameError as exc:
        raise DeskCliError(f"username {username!r} is already taken") from exc


def ensure_admin_from_env(
    services: "Services", environ: Mapping[str, str] | None = None
) -> DeskUserRecord | None:
    """Create the first admin from the settings when the desk has no active admin.

    Uses HELPDESK_DESK_ADMIN_USERNAME, HELPDESK_DESK_ADMIN_PASSWORD (and optionally
    HELPDESK_DESK_ADMIN_NAME). Nothing is created without both variables or with a weak
    password; the password is never logged.

    Returns:
        The admin created, or None.
    """
    settings = services.settings if environ is None else Settings.from_env(environ)
    users = services.desk_users
    if users.count_admins() > 0:
        return None
    username = settings.desk_admin_username.strip()
    password = settings.desk_admin_password
    if not username or not password:
        logger.warning(
            "the agent desk has no active admin: run `helpdesk desk create-admin --username U` "
            "or set %s and %s",
            ADMIN_USERNAME_ENV,
            ADMIN_PASSWORD_ENV,
        )
        return None
    try:
        admin = create_user(
            services,
            username=username,
            password=password,
            role=DeskRole.ADMIN,
            display_name=settings.desk_admin_name or None,
        )
    except DeskCliError as exc:
        logger.error("first desk admin not created from %s: %s", ADMIN_USERNAME_ENV, exc)
        return None
    logger.info("created the first desk admin %r from %s", admin.username, ADMIN_USERNAME_ENV)
    return admin


def read_password(args: argparse.Namespace) -> str:
    """The new password: the first line of stdin (`--password-stdin`) or asked twice."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise DeskCliError("no password on stdin")
        return password
    first = getpass.getpass("Kata sandi baru: ")
    second = getpass.getpass("Ulangi kata sandi: ")
    if first != second:
        raise DeskCliError("the two passwords differ")
    return first


def _print_created(user: DeskUserRecord) -> None:
    print(f"Created desk {user.role} {user.username!r} ({user.display_name}).")


def _cmd_create_admin(args: argparse.Namespace) -> int:
    user = create_user(
        _services(),
        username=args.username,
        password=read_password(args),
        role=DeskRole.ADMIN,
        display_name=args.name,
    )
    _print_created(user)
    return 0


def _cmd_add_user(args: argparse.Namespace) -> int:
    user = create_user(
        _services(),
        username=args.username,
        password=read_password(args),
        role=args.role,
        display_name=args.name,
        division=args.division,
        max_conversations=args.max_conversations,
    )
    _print_created(user)
    return 0


def _tokens() -> Any:
    return _services().api_tokens


def _cmd_token_create(args: argparse.Namespace) -> int:
    """`helpdesk desk token create --name N --scope S [--days D]`: printed once."""
    import getpass
    from datetime import datetime, timedelta, timezone

    from helpdesk.storage.api_tokens import TokenError

    expires = None
    if args.days is not None:
        if args.days < 1:
            raise ValueError("--days must be at least 1")
        expires = datetime.now(timezone.utc) + timedelta(days=args.days)
    try:
        secret, record = _tokens().create(
            args.name, set(args.scope), created_by=f"cli:{getpass.getuser()}", expires_at=expires
        )
    except TokenError as exc:
        raise ValueError(str(exc)) from exc
    print(secret)
    scopes = ", ".join(sorted(record.scopes))
    print(f"token {record.name!r} ({scopes}) made; it is shown only now", file=sys.stderr)
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    """`helpdesk desk token list`: id, name, scopes, state (never the token)."""
    for record in _tokens().list():
        state = "revoked" if record.revoked_at else "active"
        print(f"{record.id}\t{record.name}\t{','.join(sorted(record.scopes))}\t{state}")
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    """`helpdesk desk token revoke ID`."""
    if not _tokens().revoke(args.id):
        raise ValueError(f"no token {args.id}, or it was revoked already")
    print(f"token {args.id} revoked")
    return 0


def _log_to_stderr() -> None:
    """Show the helpdesk's own INFO logs (logins, worker passes); Sanic logs on its own."""
    package_logger = logging.getLogger("helpdesk")
    if not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package_logger.addHandler(handler)
        package_logger.setLevel(logging.INFO)
        package_logger.propagate = False


def _cmd_serve(args: argparse.Namespace) -> int:
    from helpdesk.desk.app import create_app

    _log_to_stderr()
    services = _services()
    ensure_admin_from_env(services)
    purged = DeskSessionRepository(services.session_factory).purge_expired()
    if purged:
        logger.info("removed %d expired desk sessions", purged)
    worker: Any = None
    if not args.no_worker:
        from helpdesk.handoff.worker import build_worker

        worker = build_worker(services)
    app = create_app(services, worker=worker)
    if not args.no_worker:
        from helpdesk.broadcasts.sender import build_sender
        from helpdesk.desk.app import attach_loop

        sender = build_sender(services)  # None when WhatsApp is not configured
        if sender is not None:
            attach_loop(app, sender, "broadcast sender")
    # Again now that Sanic has made its log handlers: their `extra` fields are masked too.
    logmask.install()
    host = args.host or services.settings.desk_host
    port = args.port or services.settings.desk_port
    print(f"Agent desk on http://{host}:{port}/", flush=True)
    app.run(host=host, port=port, access_log=False, motd=False)
    return 0


def add_desk_parser(subparsers: Any) -> None:
    """Add `helpdesk desk serve|create-admin|add-user` to the top-level sub-parsers."""
    desk = subparsers.add_parser("desk", help="agent desk: serve, create-admin, add-user")
    desk_sub = desk.add_subparsers(dest="desk_command", metavar="{serve,create-admin,add-user}")
    desk_sub.required = True

    serve = desk_sub.add_parser("serve", help="run the agent desk web app (and its worker)")
    serve.add_argument("--host", help=f"address (default HELPDESK_DESK_HOST, else {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=int, help=f"port (default HELPDESK_DESK_PORT, else {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not run the background worker and broadcast sender (one process leads anyway)",
    )
    serve.set_defaults(func=_cmd_serve)

    admin = desk_sub.add_parser("create-admin", help="create a desk admin")
    admin.add_argument("--username", required=True)
    admin.add_argument("--name", help="display name (default: the username)")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    admin.set_defaults(func=_cmd_create_admin)

    user = desk_sub.add_parser(
        "add-user", help="create a desk user (agent, supervisor, admin, knowledge manager)"
    )
    user.add_argument("--username", required=True)
    user.add_argument("--role", choices=DESK_ROLES, default=DeskRole.AGENT)
    user.add_argument("--name", help="display name (default: the username)")
    user.add_argument("--division", help="name of an existing division")
    user.add_argument("--max-conversations", type=int, default=3)
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    user.set_defaults(func=_cmd_add_user)

    from helpdesk.storage.api_tokens import API_SCOPES

    tokens = desk_sub.add_parser("token", help="integrators' API tokens: create, list, revoke")
    token_sub = tokens.add_subparsers(dest="token_action", metavar="SUBCOMMAND")
    token_sub.required = True
    create = token_sub.add_parser("create", help="make a token (printed once)")
    create.add_argument("--name", required=True, help="the system that uses it")
    create.add_argument(
        "--scope", action="append", required=True, choices=sorted(API_SCOPES), help="repeatable"
    )
    create.add_argument("--days", type=int, help="expiry in days (default: none)")
    create.set_defaults(func=_cmd_token_create)
    token_sub.add_parser("list", help="the tokens (never the tokens themselves)").set_defaults(
        func=_cmd_token_list
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=_cmd_token_revoke)
