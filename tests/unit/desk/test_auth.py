"""Desk authentication: passwords, login/logout, sessions, CSRF, roles, first admin."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text, update
from yarl import URL

from helpdesk.cli import main
from helpdesk.desk import cli as desk_cli
from helpdesk.desk.auth import LOGIN_CSRF_COOKIE, MSG_LOGIN_FAILED, SESSION_COOKIE, safe_next
from helpdesk.desk.passwords import (
    hash_password,
    password_needs_rehash,
    password_problem,
    verify_password,
)
from helpdesk.storage.db import session_scope
from helpdesk.storage.desk_sessions import DeskSessionRepository, token_digest
from helpdesk.storage.desk_users import DeskUserRepository, DuplicateNameError, LastAdminError
from helpdesk.storage.divisions import DivisionRepository
from helpdesk.storage.models import DeskSession, utcnow
from tests.unit.desk.conftest import PASSWORD

# -- passwords --------------------------------------------------------------------------------


def scrypt_hash(password: str) -> str:
    """A hash as earlier versions stored it (scrypt, n=2**14, r=8, p=1)."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "scrypt$16384$8$1$" + "$".join(encoded)


def test_hash_password_is_argon2id_salted_and_verifies():
    first, second = hash_password("kata-sandi-rahasia"), hash_password("kata-sandi-rahasia")
    assert first != second  # random salt
    assert first.startswith("$argon2id$v=19$")
    assert "kata-sandi-rahasia" not in first
    assert verify_password("kata-sandi-rahasia", first)
    assert verify_password("kata-sandi-rahasia", second)
    assert not verify_password("kata-sandi-rahasiA", first)
    assert not verify_password("", first)
    assert not password_needs_rehash(first)


def test_scrypt_hashes_of_earlier_versions_still_verify_and_need_a_rehash():
    old = scrypt_hash("kata-sandi-lama-1")
    assert verify_password("kata-sandi-lama-1", old)
    assert not verify_password("kata-sandi-lama-2", old)
    assert password_needs_rehash(old)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("kata-sandi-lama-1")
    assert verify_password("kata-sandi-lama-1", weak)
    assert password_needs_rehash(weak)  # argon2 with weaker parameters is upgraded too


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$1$8$1$AAAA$AAAA",
        "md5$16384$8$1$AAAA$AAAA",
        "scrypt$x$8$1$$",
        "$argon2id$v=19$m=65536,t=3,p=4$AAAA",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA",
    ],
)
def test_malformed_hash_never_matches(stored):
    assert not verify_password("anything-at-all", stored)


async def test_login_upgrades_an_old_scrypt_hash_to_argon2(desk, services):
    users = DeskUserRepository(services.session_factory)
    user = users.create("lama", "Petugas Lama", scrypt_hash(PASSWORD), role="agent")
    client = await desk.client()

    page = await client.login(user.username)

    assert page.status == 303
    stored = users.credentials("lama")[1]
    assert stored.startswith("$argon2id$") and verify_password(PASSWORD, stored)
    again = await desk.client()
    assert (await again.login(user.username)).status == 303  # the new hash works
    wrong = await desk.client()
    assert (await wrong.login(user.username, "sandi-yang-salah")).status == 401


async def test_a_failed_login_leaves_the_old_hash(desk, services):
    users = DeskUserRepository(services.session_factory)
    old = scrypt_hash(PASSWORD)
    users.create("lama", "Petugas Lama", old, role="agent")
    client = await desk.client()
    assert (await client.login("lama", "sandi-yang-salah")).status == 401
    assert users.credentials("lama")[1] == old


def test_rehash_never_overwrites_a_password_changed_meanwhile(services, make_user):
    users = DeskUserRepository(services.session_factory)
    user = make_user("agent")
    current = users.credentials(user.username)[1]
    users.set_password(user.id, hash_password("sandi-baru-dari-admin"))
    assert not users.rehash_password(user.id, current, hash_password(PASSWORD))
    assert verify_password("sandi-baru-dari-admin", users.credentials(user.username)[1])


def test_password_rules():
    assert password_problem("pendek") == "Kata sandi minimal 10 karakter."
    assert password_problem("budi.santoso", "Budi.Santoso") is not None
    assert password_problem(" spasi-di-depan") is not None
    assert password_problem("cukup-panjang-1") is None


# -- login and logout -------------------------------------------------------------------------


async def test_login_opens_a_session_with_safe_cookie(desk, make_user, services):
    admin = make_user("admin")
    client = await desk.client()
    form = await client.get("/login")
    assert form.status == 200
    for label in ("Masuk", "Nama pengguna", "Kata sandi"):
        assert label in form.text
    assert "HttpOnly" in form.headers["Set-Cookie"]

    page = await client.login(admin.username)

    assert page.status == 303
    assert page.location == "/"
    cookie = page.headers["Set-Cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = client.cookie(SESSION_COOKIE)
    with session_scope(services.session_factory) as session:
        ids = list(session.execute(select(DeskSession.id)).scalars())
    assert ids == [token_digest(token)]  # only the hash is stored
    assert (await client.get("/admin")).status == 200


async def test_login_goes_back_to_the_page_asked_for(desk, make_user):
    admin = make_user("admin")
    client = await desk.client()
    first = await client.get("/admin/users")
    assert first.status == 302
    assert first.location == "/login?next=/admin/users"
    form = await client.get(first.location)
    assert 'name="next" value="/admin/users"' in form.text
    token = client.cookie(LOGIN_CSRF_COOKIE)
    page = await client.post(
        "/login",
        {"username": admin.username, "password": PASSWORD, "next": "/admin/users"},
        csrf=token,
    )
    assert page.status == 303
    assert page.location == "/admin/users"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin", "/admin"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/login?next=/x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_refuses_other_sites(target, expected):
    assert safe_next(target) == expected


@pytest.mark.parametrize("which", ["password", "username"])
async def test_wrong_credentials_give_one_generic_message(desk, make_user, which):
    agent = make_user("agent")
    client = await desk.client()
    username = agent.username if which == "password" else "tidak-ada"
    password = "salah-sandi-123" if which == "password" else PASSWORD

    page = await client.login(username, password)

    assert page.status == 401
    assert MSG_LOGIN_FAILED in page.text
    assert client.cookie(SESSION_COOKIE) is None
    assert (await client.get("/admin")).status == 302


async def test_inactive_user_cannot_log_in(desk, make_user):
    agent = make_user("agent", active=False)
    client = await desk.client()
    page = await client.login(agent.username, PASSWORD)
    assert page.status == 401
    assert MSG_LOGIN_FAILED in page.text  # nothing tells the account exists
    assert client.cookie(SESSION_COOKIE) is None


async def test_deactivated_user_loses_the_open_session(desk, services):
    client, admin = await desk.client_for("admin")
    other, _ = await desk.client_for("admin")
    assert (await client.get("/admin")).status == 200

    DeskUserRepository(services.session_factory).update(admin.id, active=False)

    page = await client.get("/admin")
    assert page.status == 302
    assert page.location.startswith("/login")
    assert (await other.get("/admin")).status == 200


async def test_logout_ends_the_session_on_the_server(desk, services):
    client, _ = await desk.client_for("admin")
    token = client.cookie(SESSION_COOKIE)

    page = await client.logout()

    assert page.status == 303
    assert page.location == "/login"
    assert DeskSessionRepository(services.session_factory).get_valid(token) is None
    # A copy of the old cookie (e.g. stolen) no longer works.
    thief = await desk.client()
    thief.http.cookie_jar.update_cookies({SESSION_COOKIE: token}, URL(desk.url))
    assert (await thief.get("/admin")).status == 302
    assert "Anda sudah keluar." in (await client.get("/login")).text


async def test_login_rotates_an_existing_session(desk, make_user, services):
    admin = make_user("admin")
    planted, _ = await desk.client_for("agent")
    old = planted.cookie(SESSION_COOKIE)
    client = await desk.client()
    await client.get("/login")
    login_token = client.cookie(LOGIN_CSRF_COOKIE)
    client.http.cookie_jar.update_cookies({SESSION_COOKIE: old}, URL(desk.url))  # fixation

    page = await client.post(
        "/login", {"username": admin.username, "password": PASSWORD}, csrf=login_token
    )

    assert page.status == 303
    new = client.cookie(SESSION_COOKIE)
    assert new and new != old
    sessions = DeskSessionRepository(services.session_factory)
    assert sessions.get_valid(old) is None
    assert sessions.get_valid(new)[1].id == admin.id


async def test_failed_logins_are_throttled(desk, make_user):
    agent = make_user("agent")
    client = await desk.client()
    for _ in range(5):
        assert (await client.login(agent.username, "salah-sandi-123")).status == 401

    page = await client.login(agent.username, PASSWORD)  # right password, but paused

    assert page.status == 429
    assert "Terlalu banyak percobaan masuk" in page.text
    assert client.cookie(SESSION_COOKIE) is None


# -- sessions ---------------------------------------------------------------------------------


def test_sessions_expire_after_idle_time_and_slide(services, make_user):
    user = make_user("agent")
    sessions = DeskSessionRepository(services.session_factory)
    token, record = sessions.create(user.id)
    assert record.expires_at - record.created_at == timedelta(hours=12)
    assert record.id == token_digest(token) and len(record.csrf_token) >= 40

    # Last seen a while ago, still valid: the expiry slides forward.
    with session_scope(services.session_factory) as session:
        session.execute(
            update(DeskSession).values(
                last_seen_at=utcnow() - timedelta(hours=11),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
    found = sessions.get_valid(token)
    assert found is not None
    assert found[0].expires_at > utcnow() + timedelta(hours=11)

    with session_scope(services.session_factory) as session:
        session.execute(update(DeskSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sessions.get_valid(token) is None
    assert sessions.get_valid("not-a-token") is None


def test_purge_and_delete_for_user(services, make_user):
    one, two = make_user("agent"), make_user("agent")
    sessions = DeskSessionRepository(services.session_factory)
    token_a, _ = sessions.create(one.id)
    token_b, _ = sessions.create(one.id)
    token_c, _ = sessions.create(two.id)
    assert sessions.delete_for_user(one.id) == 2
    assert sessions.get_valid(token_a) is None and sessions.get_valid(token_b) is None
    with session_scope(services.session_factory) as session:
        session.execute(update(DeskSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert sessions.purge_expired() == 1
    assert sessions.get_valid(token_c) is None


# -- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [False, "salah-token"])
async def test_post_without_the_right_csrf_token_is_refused(desk, services, token):
    client, _ = await desk.client_for("admin")

    page = await client.post("/admin/divisions", {"name": "Tim SAKTI"}, csrf=token)

    assert page.status == 403
    assert "Formulir sudah kedaluwarsa" in page.text
    assert DivisionRepository(services.session_factory).list() == []


async def test_csrf_token_in_header_is_accepted(desk, services):
    client, _ = await desk.client_for("admin")
    page = await client.post(
        "/admin/divisions",
        {"name": "Tim SAKTI"},
        csrf=False,
        headers={"X-CSRF-Token": client.csrf_token},
    )
    assert page.status == 303
    assert [d.name for d in DivisionRepository(services.session_factory).list()] == ["Tim SAKTI"]


async def test_another_sessions_csrf_token_is_refused(desk, services):
    client, _ = await desk.client_for("admin")
    other, _ = await desk.client_for("admin")
    page = await client.post("/admin/divisions", {"name": "Tim SAKTI"}, csrf=other.csrf_token)
    assert page.status == 403
    assert DivisionRepository(services.session_factory).list() == []


async def test_login_form_needs_its_csrf_token(desk, make_user):
    admin = make_user("admin")
    client = await desk.client()
    await client.get("/login")
    page = await client.post("/login", {"username": admin.username, "password": PASSWORD})
    assert page.status == 403
    assert client.cookie(SESSION_COOKIE) is None


async def test_logged_out_post_goes_to_login(desk, services):
    client = await desk.client()
    page = await client.post("/admin/divisions", {"name": "Tim SAKTI"})
    assert page.status == 303
    assert page.location == "/login"
    assert DivisionRepository(services.session_factory).list() == []


# -- roles, headers, errors -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_open_admin_pages(desk, role):
    client, _ = await desk.client_for(role)
    for path in ("/admin", "/admin/users", "/admin/office-hours"):
        page = await client.get(path)
        assert page.status == 403, path
        assert "Akses ditolak" in page.text
    assert (await client.post("/admin/divisions", {"name": "X"})).status == 403


async def test_navigation_follows_the_role(desk):
    agent, _ = await desk.client_for("agent")
    admin, _ = await desk.client_for("admin")
    supervisor, _ = await desk.client_for("supervisor")
    agent_page = (await agent.get("/admin")).text
    assert 'href="/reports"' not in agent_page and 'href="/admin"' not in agent_page
    assert 'href="/tickets"' in agent_page
    supervisor_page = (await supervisor.get("/admin")).text
    assert 'href="/reports"' in supervisor_page and 'href="/admin"' not in supervisor_page
    admin_page = (await admin.get("/admin")).text
    assert 'href="/reports"' in admin_page and 'href="/admin"' in admin_page
    assert "Keluar" in admin_page


async def test_security_headers(desk):
    client, _ = await desk.client_for("admin")
    page = await client.get("/admin")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.text  # CSP: no inline scripts
    css = await client.get("/static/desk.css")
    assert css.status == 200 and "no-store" not in css.headers.get("Cache-Control", "")


async def test_unknown_page_and_health(desk):
    client = await desk.client()
    page = await client.get("/tidak-ada")
    assert page.status == 404
    assert "Halaman tidak ditemukan" in page.text
    health = await client.get("/healthz")
    assert health.status == 200 and '"ok"' in health.text


async def test_health_checks_the_database(desk, services):
    client = await desk.client()
    assert (await client.get("/healthz")).status == 200
    with services.session_factory() as session:  # the store loses its schema
        session.execute(text("DROP TABLE alembic_version"))
        session.commit()
    health = await client.get("/healthz")
    assert health.status == 503
    assert json.loads(health.text)["checks"]["database"]["status"] == "error"


# -- repositories -----------------------------------------------------------------------------


def test_usernames_are_unique_case_insensitive(services, make_user):
    make_user("agent", username="budi")
    with pytest.raises(DuplicateNameError):
        make_user("agent", username=" BUDI ")
    with pytest.raises(ValueError):
        make_user("boss")


def test_last_active_admin_cannot_be_removed(services, make_user):
    users = DeskUserRepository(services.session_factory)
    admin = make_user("admin")
    with pytest.raises(LastAdminError):
        users.update(admin.id, active=False)
    with pytest.raises(LastAdminError):
        users.update(admin.id, role="agent")
    second = make_user("admin")
    assert users.update(admin.id, role="supervisor").role == "supervisor"
    assert users.count_admins() == 1
    assert users.get(second.id).is_admin


# -- first admin ------------------------------------------------------------------------------


def test_first_admin_from_environment(services, caplog):
    env = {
        desk_cli.ADMIN_USERNAME_ENV: "Kepala",
        desk_cli.ADMIN_PASSWORD_ENV: "sandi-awal-yang-kuat",
    }
    with caplog.at_level(logging.INFO):
        admin = desk_cli.ensure_admin_from_env(services, env)
    assert admin is not None and admin.username == "kepala" and admin.role == "admin"
    assert "sandi-awal-yang-kuat" not in caplog.text
    users = DeskUserRepository(services.session_factory)
    found = users.credentials("kepala")
    assert found is not None and verify_password("sandi-awal-yang-kuat", found[1])
    # Once an admin exists the variables are ignored.
    env[desk_cli.ADMIN_USERNAME_ENV] = "lain"
    assert desk_cli.ensure_admin_from_env(services, env) is None
    assert users.get_by_username("lain") is None


@pytest.mark.parametrize(
    "env",
    [
        {},
        {desk_cli.ADMIN_USERNAME_ENV: "kepala"},
        {desk_cli.ADMIN_USERNAME_ENV: "kepala", desk_cli.ADMIN_PASSWORD_ENV: "pendek"},
    ],
)
def test_no_admin_without_a_good_password(services, env, caplog):
    with caplog.at_level(logging.WARNING):
        assert desk_cli.ensure_admin_from_env(services, env) is None
    assert DeskUserRepository(services.session_factory).list() == []
    assert "pendek" not in caplog.text


def test_create_admin_command_reads_stdin(services, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("sandi-admin-kuat-1\n"))
    status = main(
        ["desk", "create-admin", "--username", "root", "--name", "Admin Utama", "--password-stdin"]
    )
    assert status == 0
    assert "root" in capsys.readouterr().out
    found = DeskUserRepository(services.session_factory).credentials("root")
    assert found is not None
    user, password_hash = found
    assert (user.role, user.display_name) == ("admin", "Admin Utama")
    assert verify_password("sandi-admin-kuat-1", password_hash)


def test_create_admin_command_asks_twice(services, monkeypatch, capsys):
    answers = iter(["sandi-admin-kuat-1", "sandi-admin-lain-2"])
    monkeypatch.setattr(desk_cli.getpass, "getpass", lambda prompt="": next(answers))
    assert main(["desk", "create-admin", "--username", "root"]) == 2
    assert "differ" in capsys.readouterr().err
    assert DeskUserRepository(services.session_factory).list() == []

    answers = iter(["sandi-admin-kuat-1", "sandi-admin-kuat-1"])
    assert main(["desk", "create-admin", "--username", "root"]) == 0
    assert DeskUserRepository(services.session_factory).get_by_username("root").is_admin


def test_create_admin_refuses_a_short_password(services, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("pendek\n"))
    assert main(["desk", "create-admin", "--username", "root", "--password-stdin"]) == 2
    assert "minimal 10" in capsys.readouterr().err
    assert DeskUserRepository(services.session_factory).list() == []


def test_add_user_command(services, monkeypatch):
    DivisionRepository(services.session_factory).create("Tim SAKTI", "SAKTI")
    monkeypatch.setattr("sys.stdin", io.StringIO("sandi-agen-kuat-1\n"))
    argv = ["desk", "add-user", "--username", "siti", "--role", "supervisor"]
    argv += ["--division", "tim sakti", "--max-conversations", "5", "--password-stdin"]
    assert main(argv) == 0
    user = DeskUserRepository(services.session_factory).get_by_username("siti")
    assert (user.role, user.max_conversations) == ("supervisor", 5)
    assert user.division_id is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("sandi-agen-kuat-1\n"))
    assert main([*argv[:4], "--role", "agent", "--password-stdin"]) == 2  # name taken
