"""Playing both sides of the human handoff in end-to-end tests: the citizen over Rasa's REST
channel and HTTP API, the agent on the helpdesk database (as the desk's views do).

Used by tests/e2e_live/test_handoff_live.py, test_handoff_restart_live.py,
test_telegram_handoff_live.py and the agent desk's and web chat's handoff browser tests, with a
running `Stack` (tests/support/stack.py).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import requests

if TYPE_CHECKING:
    from helpdesk.services import Services
    from helpdesk.storage.desk_users import DeskUserRecord
    from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
#: Office hours open around the clock, so a test does not depend on the time it runs.
ALWAYS_OPEN = ROOT / "tests" / "always_open_office_hours.yml"


def handoff_env(timeout_minutes: float = 30) -> dict[str, str]:
    """The environment of a stack for handoff tests: office hours always open, and a request
    nobody takes becoming a ticket after `timeout_minutes`."""
    return {
        "HELPDESK_OFFICE_HOURS_FILE": str(ALWAYS_OPEN),
        "HELPDESK_HANDOFF_TIMEOUT_MINUTES": str(timeout_minutes),
    }


def say(stack: Stack, sender: str, text: str) -> list[dict[str, Any]]:
    """Send `text` as `sender` on the REST channel; returns the bot's messages."""
    response = requests.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def texts(messages: list[dict[str, Any]]) -> str:
    """The texts of the bot's `messages` (as `say` returns them), one a line."""
    return "\n".join(m.get("text") or "" for m in messages)


def tracker_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    """Every event of `sender`'s conversation, through Rasa's HTTP API with the stack's token."""
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.env["RASA_API_TOKEN"], "include_events": "ALL"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["events"]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Call `predicate` every `interval` seconds until it returns something truthy.

    Returns:
        What `predicate` returned.

    Raises:
        AssertionError: After `timeout` seconds, naming `what` was waited for.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def desk_services(stack: Stack) -> Iterator[Services]:
    """The helpdesk services on the stack's database, as the desk process builds them (the
    agent's side); their database engine is disposed of on exit."""
    from helpdesk.services import Services
    from helpdesk.settings import Settings

    built = Services(Settings.from_env(stack.env))
    try:
        yield built
    finally:
        built.session_factory.kw["bind"].dispose()


def create_agent(
    services: Services,
    username: str,
    display_name: str,
    password: str,
    *,
    max_conversations: int = 3,
) -> DeskUserRecord:
    """A new desk user with the agent role, as an admin would add them (offline: the worker
    does not assign conversations to them until they go online)."""
    from helpdesk.desk.passwords import hash_password
    from helpdesk.storage.desk_users import DeskUserRepository

    return DeskUserRepository(services.session_factory).create(
        username,
        display_name,
        hash_password(password),
        role="agent",
        max_conversations=max_conversations,
    )


def csat_ratings(
    services: Services, sender: str | None = None
) -> list[tuple[int, str, int | None]]:
    """(rating, kind, handoff_id) of the stored satisfaction ratings (csat_rating) of `sender`,
    or of everyone when None; kind "agent" rates the handoff `handoff_id`."""
    from sqlalchemy import select

    from helpdesk.storage.db import session_scope
    from helpdesk.storage.models import CsatRating

    stmt = select(CsatRating.rating, CsatRating.kind, CsatRating.handoff_id)
    if sender is not None:
        stmt = stmt.where(CsatRating.sender_id == sender)
    with session_scope(services.session_factory) as session:
        return [(r, k, h) for r, k, h in session.execute(stmt).all()]
