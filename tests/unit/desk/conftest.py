"""Fixtures of the agent desk tests: services on a temporary SQLite store, the desk app served
on a free local port, users of each role and HTTP clients that log in.

The app runs in a real Sanic server (sanic-testing is not installed) and the clients are
aiohttp sessions with their own cookie jar, so cookies, redirects and headers behave as in a
browser. Typical use:

    async def test_something(desk, make_user):
        agent = make_user("agent")
        client = await desk.client()
        await client.login(agent.username, PASSWORD)
        page = await client.get("/tickets")
        assert page.status == 200
        await client.post("/some/form", {"field": "value"})  # CSRF token added automatically

or, shorter, `client, user = await desk.client_for("supervisor")`.
"""

from __future__ import annotations

import itertools
import re
import socket
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping
from uuid import uuid4

import aiohttp
import pytest
from sanic import Sanic

from helpdesk.desk.app import create_app
from helpdesk.desk.auth import SESSION_COOKIE, DeskConfig
from helpdesk.desk.passwords import hash_password
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.desk_sessions import DeskSessionRepository
from helpdesk.storage.desk_users import DeskUserRecord, DeskUserRepository

# Several apps are built in one process (one per test); Sanic refuses duplicate names otherwise.
Sanic.test_mode = True

#: Password of every user made by `make_user` (unless one is given).
PASSWORD = "rahasia-panjang-123"

_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def services(session_factory, tmp_path) -> Services:
    """Helpdesk services on the test's migrated SQLite store (also the process-wide ones)."""
    settings = Settings(var_dir=tmp_path / "var", tracker_db=tmp_path / "var" / "tracker.db")
    injected = Services(settings, session_factory=session_factory)
    set_services(injected)
    yield injected
    set_services(None)


@pytest.fixture
def make_user(services) -> Callable[..., DeskUserRecord]:
    """Create a desk user: `make_user("agent", username=..., password=..., **fields)`.

    Unique user names are drawn when none is given; the password defaults to `PASSWORD`.
    Other keyword arguments go to `DeskUserRepository.create` (division_id,
    max_conversations, active, display_name).
    """
    users = DeskUserRepository(services.session_factory)
    counter = itertools.count(1)
    hashes: dict[str, str] = {}

    def make(
        role: str = "agent",
        *,
        username: str | None = None,
        password: str = PASSWORD,
        display_name: str | None = None,
        **fields: Any,
    ) -> DeskUserRecord:
        name = username or f"{role}{next(counter)}"
        if password not in hashes:  # scrypt is slow on purpose: hash each password once
            hashes[password] = hash_password(password)
        return users.create(
            name,
            display_name or f"Petugas {name.title()}",
            hashes[password],
            role=role,
            **fields,
        )

    return make


@pytest.fixture
def desk_app(services) -> Sanic:
    """The desk app on the test services (no worker; `app.ctx.relay` is a recording fake)."""
    return create_app(
        services, relay=FakeRelay(), name=f"desk_{uuid4().hex[:12]}", config=DeskConfig()
    )


@dataclass
class FakeRelay:
    """Stands in for the relay: counts `deliver_soon()` calls."""

    calls: int = 0

    def deliver_soon(self) -> None:
        self.calls += 1


@dataclass
class Page:
    """An HTTP response as the tests see it."""

    status: int
    text: str
    headers: Mapping[str, str]

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


@dataclass
class DeskClient:
    """A browser-like client: its own cookies; adds the CSRF token to POSTs once logged in."""

    base_url: str
    app: Sanic
    http: aiohttp.ClientSession
    csrf_token: str | None = None
    user: DeskUserRecord | None = None

    async def request(
        self,
        method: str,
        path: str,
        data: Mapping[str, Any] | None = None,
        *,
        csrf: bool | str = True,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Page:
        """Send a request (redirects are not followed).

        Args:
            csrf: True adds the session's token to form data (when logged in); a string sends
                that token instead; False sends none.
        """
        form = dict(data or {})
        if method.upper() != "GET" and json is None:
            token = csrf if isinstance(csrf, str) else (self.csrf_token if csrf else None)
            if token is not None and "csrf_token" not in form:
                form["csrf_token"] = token
        async with self.http.request(
            method,
            self.base_url + path,
            data=form if method.upper() != "GET" and json is None else None,
            json=json,
            headers=dict(headers or {}),
            allow_redirects=False,
        ) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers))

    async def get(self, path: str, **kwargs: Any) -> Page:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any) -> Page:
        return await self.request("POST", path, data, **kwargs)

    def cookie(self, name: str) -> str | None:
        """The value of a cookie the client holds, or None."""
        for morsel in self.http.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None

    async def login(self, username: str, password: str = PASSWORD) -> Page:
        """Log in through the login form; on success `csrf_token` holds the session's token."""
        form = await self.get("/login")
        match = _LOGIN_CSRF.search(form.text)
        assert match, f"no login form (status {form.status})"
        page = await self.post(
            "/login", {"username": username, "password": password}, csrf=match.group(1)
        )
        token = self.cookie(SESSION_COOKIE)
        if page.status == 303 and token:
            found = DeskSessionRepository(self.app.ctx.services.session_factory).get_valid(token)
            assert found is not None
            self.csrf_token = found[0].csrf_token
            self.user = found[1]
        return page

    async def logout(self) -> Page:
        page = await self.post("/logout")
        self.csrf_token = None
        self.user = None
        return page


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class DeskServer:
    """The desk app served on a free port; makes clients."""

    url: str
    app: Sanic
    make_user: Callable[..., DeskUserRecord]
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def client(self) -> DeskClient:
        """A new client with an empty cookie jar."""
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._sessions.append(http)
        return DeskClient(self.url, self.app, http)

    async def client_for(
        self, role: str = "agent", **user_fields: Any
    ) -> tuple[DeskClient, DeskUserRecord]:
        """A new user of this role (see `make_user`) and a client logged in as them."""
        user = self.make_user(role, **user_fields)
        client = await self.client()
        page = await client.login(user.username, user_fields.get("password", PASSWORD))
        assert page.status == 303, page.text
        return client, user

    async def close(self) -> None:
        for http in self._sessions:
            await http.close()


@pytest.fixture
async def desk(desk_app, make_user) -> AsyncIterator[DeskServer]:
    """`desk_app` served on a free local port; `await desk.client()` / `desk.client_for(role)`."""
    sock = _free_socket()
    server = await desk_app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    running = DeskServer(f"http://127.0.0.1:{sock.getsockname()[1]}", desk_app, make_user)
    try:
        yield running
    finally:
        await running.close()
        await server.before_stop()
        closing = server.close()
        if closing is not None:
            await closing
        await server.after_stop()
        sock.close()


@pytest.fixture
def tracker(tmp_path, desk):
    """Rasa's tracker store (the `events` table) on a SQLite file, wired into the desk."""
    from sqlalchemy import create_engine

    from helpdesk.rasa_bridge.events import RASA_EVENTS

    engine = create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    RASA_EVENTS.metadata.create_all(engine)
    desk.app.ctx.tracker_engine = engine
    yield engine
    engine.dispose()
