"""Integrators' API tokens: made by an admin and shown once, reading only what their scopes
allow (GET only), audited as "token:<name>", revoked or expired at once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from helpdesk.storage.api_tokens import ApiTokenRepository, TokenError
from helpdesk.storage.audit import AuditFilter
from helpdesk.tickets.service import TicketDraft

TOKEN = re.compile(r'<code class="wrap" id="new-token">(hd_[A-Za-z0-9_\-]+)</code>')


async def get(desk, path: str, token: str) -> tuple[int, str, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            desk.url + path, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
        ) as resp,
    ):
        return resp.status, await resp.text(), dict(resp.headers)


async def test_an_admin_makes_a_token_that_reads_only_its_scopes(desk, services):
    admin, user = await desk.client_for("admin")

    page = await admin.post("/admin/tokens", {"name": "Dasbor BI", "scope": "reports:read"})

    assert page.status == 200
    token = TOKEN.search(page.text).group(1)
    listing = await admin.get("/admin/tokens")
    assert "Dasbor BI" in listing.text and token not in listing.text  # shown once
    status, body, headers = await get(desk, "/reports.csv", token)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    status, body, _ = await get(desk, "/admin/audit.jsonl", token)
    assert status == 403 and "audit:read" in body
    status, _, _ = await get(desk, "/admin/users", token)  # no scope opens a page
    assert status == 403
    (download,) = services.audit.repository.search(AuditFilter(actor="token:Dasbor BI"))
    assert download.action == "desk.reports.reports_csv"
    (made,) = services.audit.repository.search(AuditFilter(action="desk.admin_tokens"))
    assert made.actor == f"desk:{user.username}" and made.detail["name"] == "Dasbor BI"


async def test_a_token_cannot_change_anything(desk, services):
    token, _ = ApiTokenRepository(services.session_factory).create(
        "Sistem X", {"reports:read", "tickets:read", "audit:read"}, created_by="admin"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            desk.url + "/admin/divisions",
            data={"name": "Tim X"},
            headers={"Authorization": f"Bearer {token}"},
            allow_redirects=False,
        ) as resp,
    ):
        assert resp.status in (303, 401)
    assert services.divisions.list() == []


async def test_ticket_status_over_the_api(desk, services):
    info = services.tickets.create(
        TicketDraft(
            subject="SP2D belum cair", chronology="NIK 3201234567890001", email="a@contoh.go.id"
        )
    )
    token, _ = ApiTokenRepository(services.session_factory).create(
        "Portal", {"tickets:read"}, created_by="admin"
    )

    status, body, _ = await get(desk, f"/api/tickets/{info.id}", token)

    assert status == 200 and '"status": "open"' in body.replace('":"', '": "')
    assert "3201234567890001" not in body and "a@contoh.go.id" not in body
    status, _, _ = await get(desk, "/api/tickets/20200101-AAAAAA", token)
    assert status == 404


async def test_revoked_and_expired_tokens_stop_working(desk, services):
    repository = ApiTokenRepository(services.session_factory)
    token, record = repository.create("Lama", {"reports:read"}, created_by="admin")
    expired, _ = repository.create(
        "Kedaluwarsa",
        {"reports:read"},
        created_by="admin",
        expires_at=datetime.now(timezone.utc) - timedelta(seconds=1),
    )
    admin, _ = await desk.client_for("admin")
    assert (await get(desk, "/reports.csv", token))[0] == 200

    await admin.post(f"/admin/tokens/{record.id}/revoke")

    assert (await get(desk, "/reports.csv", token))[0] == 302  # to the login page
    assert (await get(desk, "/reports.csv", expired))[0] == 302
    assert (await get(desk, "/reports.csv", "hd_tebakan"))[0] == 302


async def test_a_token_needs_a_name_and_known_scopes(desk, services):
    admin, _ = await desk.client_for("admin")
    assert (await admin.post("/admin/tokens", {"name": "X"})).status == 400
    assert (await admin.post("/admin/tokens", {"name": "", "scope": "reports:read"})).status == 400
    assert (
        await admin.post("/admin/tokens", {"name": "Y", "scope": "reports:read", "days": "0"})
    ).status == 400
    with pytest.raises(TokenError):
        ApiTokenRepository(services.session_factory).create(
            "Z", {"tickets:write"}, created_by="admin"
        )
    agent, _ = await desk.client_for("agent")
    assert (await agent.get("/admin/tokens")).status == 403


def test_tokens_from_the_command_line(tmp_path, monkeypatch, capsys):
    from helpdesk.cli import main

    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HELPDESK_DATABASE_URL", raising=False)

    assert main(["desk", "token", "create", "--name", "BI", "--scope", "reports:read"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("hd_")
    assert main(["desk", "token", "list"]) == 0
    listed = capsys.readouterr().out
    assert "BI\treports:read\tactive" in listed and token not in listed
    assert main(["desk", "token", "revoke", "1"]) == 0
    assert main(["desk", "token", "revoke", "1"]) == 2
    assert main(["desk", "token", "create", "--name", "BI2", "--scope", "x:write"]) == 2
