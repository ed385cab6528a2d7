"""The desk's pages, one module per area; each exposes a Sanic blueprint named `bp`.

Views call the helpdesk services (`services_of(request)`: the container's repositories and
domain services), never the storage layer directly.

Numbers that come from URLs and forms are read with `parse_id`: a row id is a whole number
from 1 to `MAX_ID`. Anything larger cannot name a row, and reaching the database with it is
an error there (SQLite: "Python int too large to convert to SQLite INTEGER"; Postgres:
"integer out of range"), i.e. a 500 page instead of a 404 or a form error. `helpdesk.desk.app`
turns an id out of range in a route's URL into 404 before any view runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from sanic import Request

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services

#: The largest row id: the ids are INTEGER columns, 32-bit signed on Postgres.
MAX_ID = 2**31 - 1


def parse_id(text: object) -> int | None:
    """A row id typed in a form or query ("42"); None for anything else.

    Args:
        text: The raw value (a string, or anything else: None, a list, ...).

    Returns:
        The id when `text` is 1 to 10 ASCII digits naming 1 to `MAX_ID`, else None.
    """
    if not isinstance(text, str):
        return None
    digits = text.strip()
    if not digits or len(digits) > 10 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_ID else None


def id_in_range(value: object) -> bool:
    """Whether a route's id argument (an int Sanic parsed from the URL) can name a row."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def services_of(request: Request) -> "Services":
    """The helpdesk services of the desk app (`app.ctx.services`)."""
    return cast("Services", request.app.ctx.services)
