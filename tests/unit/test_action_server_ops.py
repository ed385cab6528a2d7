"""rasa_sdk_plugins.ops: the action server's `/healthz` and `/metrics`.

The action server is rasa-sdk's own app with the plugins attached as `rasa_sdk.endpoint.run`
attaches them (`tests.unit.test_action_auth.build_app`), served on a free local port; the
helpdesk services are the test database's, the backend API is mocked with `responses`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import responses
from sanic import Sanic
from sqlalchemy import create_engine

import rasa_sdk_plugins
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.db import make_session_factory
from rasa_sdk_plugins import action_auth, ops
from tests.unit.knowledge.conftest import FAQ_A
from tests.unit.test_action_auth import TOKEN, build_app, call, serve

BACKEND = "http://backend.test"


@dataclass
class FakeIndex:
    entries: list[str] = field(default_factory=lambda: ["sakti-reset-password", "sp2d-status"])


@dataclass
class FakeRetriever:
    """Only what the health check reads of a loaded retriever."""

    index: FakeIndex = field(default_factory=FakeIndex)


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    monkeypatch.setenv("RASA_ACTIONS_TOKEN", TOKEN)
    monkeypatch.setenv("SANIC_HOST", "")  # the plugin sets it; restored after the test
    monkeypatch.setattr(action_auth, "environment", lambda: dict(os.environ))
    Sanic.test_mode = True


@pytest.fixture
def backend():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(BACKEND + "/v1/health", json={"status": "ok"})
        yield mocked


def install(tmp_path: Path, session_factory, *, retriever=None) -> Services:
    settings = Settings(
        backend_url=BACKEND,
        kb_source=tmp_path / "faq",
        kb_index_dir=tmp_path / "kb_index",
        var_dir=tmp_path / "var",
    )
    services = Services(settings, session_factory=session_factory, retriever=retriever)
    set_services(services)
    return services


@pytest.fixture(autouse=True)
def no_services_left():
    yield
    set_services(None)


def test_rasa_sdk_registers_the_plugin():
    from rasa_sdk.plugin import plugin_manager

    assert rasa_sdk_plugins.ops is ops and plugin_manager().is_registered(ops)


async def test_healthy_when_database_index_and_backend_answer(tmp_path, session_factory, backend):
    install(tmp_path, session_factory, retriever=FakeRetriever())
    async with serve(build_app()) as url:
        status, body = await call(url, "/healthz", method="GET")  # no token needed
    assert status == 200, body
    assert body["status"] == "ok"
    checks = body["checks"]
    assert checks["database"]["status"] == "ok" and checks["database"]["required"] is True
    assert checks["faq_index"] == {
        "status": "ok",
        "required": True,
        "detail": "loaded, 2 entries",
        "ms": checks["faq_index"]["ms"],
    }
    assert checks["backend"]["status"] == "ok" and checks["backend"]["required"] is False


async def test_an_unreachable_database_is_503_and_named(tmp_path, backend):
    broken = make_session_factory(create_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    install(tmp_path, broken, retriever=FakeRetriever())
    async with serve(build_app()) as url:
        status, body = await call(url, "/healthz", method="GET")
    assert status == 503
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "error"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["faq_index"]["status"] == "ok"


async def test_a_backend_that_is_down_is_reported_but_not_fatal(tmp_path, session_factory):
    install(tmp_path, session_factory, retriever=FakeRetriever())
    with responses.RequestsMock() as mocked:
        mocked.get(BACKEND + "/v1/health", status=503)
        async with serve(build_app()) as url:
            status, body = await call(url, "/healthz", method="GET")
    assert status == 200
    assert body["checks"]["backend"]["status"] == "error"
    assert body["checks"]["backend"]["error"] == "BackendUnavailable"


async def test_a_missing_faq_index_is_503_with_what_to_do(tmp_path, session_factory, backend):
    install(tmp_path, session_factory)  # nothing loaded, nothing built in tmp_path/kb_index
    async with serve(build_app()) as url:
        status, body = await call(url, "/healthz", method="GET")
        assert status == 503
        assert body["checks"]["faq_index"]["error"] == (
            "FAQ sources invalid: `helpdesk kb build` says why"  # tmp_path/faq does not exist
        )
        (tmp_path / "faq").mkdir()
        (tmp_path / "faq" / "a.yml").write_text(FAQ_A, encoding="utf-8")
        status, body = await call(url, "/healthz", method="GET")
    assert status == 503
    assert body["checks"]["faq_index"]["error"] == "index missing: run `helpdesk kb build`"


async def test_metrics_answer_this_machine_without_the_actions_token(tmp_path, session_factory):
    install(tmp_path, session_factory)
    async with serve(build_app()) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/metrics") as page:
                text = await page.text()
                assert page.status == 200
                assert page.headers["Content-Type"].startswith("text/plain; version=")
            forwarded = {"X-Forwarded-For": "203.0.113.9"}
            async with http.get(url + "/metrics", headers=forwarded) as refused:
                assert refused.status == 403
        # Everything else still needs the token.
        assert (await call(url, "/actions", method="GET"))[0] == 401
    assert 'helpdesk_faq_answers_total{outcome="declined"}' in text
    assert "helpdesk_backend_request_seconds" in text


def test_the_index_on_disk_is_checked_once_until_it_or_the_knowledge_base_change(
    tmp_path, session_factory, monkeypatch
):
    from helpdesk.health import CheckFailed
    from helpdesk.knowledge import index as index_module
    from helpdesk.knowledge.curation import import_source
    from helpdesk.knowledge.index_build import ensure_index
    from tests.unit.knowledge.conftest import FAQ_B, FakeEmbedder

    services = install(tmp_path, session_factory)
    faq = tmp_path / "faq"
    faq.mkdir()
    (faq / "a.yml").write_text(FAQ_A, encoding="utf-8")
    (faq / "b.yml").write_text(FAQ_B, encoding="utf-8")
    ensure_index(faq, tmp_path / "kb_index", FakeEmbedder())
    checks: list[int] = []
    real = index_module.check_index

    def counted(source: Path, out_dir: Path) -> dict:
        checks.append(1)
        return real(source, out_dir)

    monkeypatch.setattr(index_module, "check_index", counted)
    memo: dict = {}
    detail = "built, 3 entries, loaded at the first question"
    assert ops.faq_index_probe(services, memo) == detail
    assert ops.faq_index_probe(services, memo) == detail
    assert len(checks) == 1  # the knowledge base and the manifest did not change

    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "b.yml").write_text(FAQ_B.replace("registrar resmi", "registrar"), "utf-8")
    import_source(services.knowledge_base, edited, author="km1")  # a publication
    with pytest.raises(CheckFailed, match="index stale"):
        ops.faq_index_probe(services, memo)
    assert len(checks) == 2
