"""`/healthz` and `/metrics` of the action server.

- `GET /healthz` answers 200 when the action server can do its work, 503 otherwise, with the
  JSON report of `helpdesk.health`. It checks
  - `database` (required): the helpdesk database is reachable and migrated;
  - `faq_index` (required): the FAQ retriever is loaded in this process, or the index on disk
    is built for the current FAQ sources (else the first question would rebuild it, or fail);
  - `backend` (reported, not required): the backend API answers `GET /v1/health`. When it is
    down the lookups apologise and offer a ticket, everything else works, and every action
    server shares the same backend: taking this one out of a balancer would not help.
- `GET /metrics` serves `helpdesk.metrics.render()` (FAQ outcomes, backend calls, tickets,
  handoff requests and endings, Python's process metrics) to callers
  `helpdesk.metrics.scrape_allowed` lets in: this machine, or any caller with
  `Authorization: Bearer $HELPDESK_METRICS_TOKEN`; 403 to others.

Neither needs `RASA_ACTIONS_TOKEN` (`rasa_sdk_plugins.action_auth.OPEN_PATHS`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from helpdesk import metrics
from helpdesk.health import Check, CheckFailed, database_check, run_checks

hookimpl = pluggy.HookimplMarker("rasa_sdk")

#: Seconds the backend API has to answer its health check.
BACKEND_TIMEOUT = 2.0


def faq_index_probe(services: Any, memo: dict | None = None) -> str:
    """The FAQ index: loaded in this process, or built on disk for the published knowledge
    base.

    Reading and hashing the entries takes a moment: with `memo`, the last good answer is
    reused while the manifest and the knowledge base's revision are unchanged
    (`helpdesk.knowledge.index.index_fingerprint`).

    Raises:
        CheckFailed: "index missing", "index stale" or "FAQ sources invalid" (`helpdesk kb
            build` rebuilds it, or says what is wrong with the knowledge base).
    """
    from helpdesk.knowledge.index import (
        IndexMissingError,
        IndexStaleError,
        check_index,
        index_fingerprint,
    )
    from helpdesk.knowledge.loader import FaqSourceError

    retriever = services.loaded_retriever
    if retriever is not None:
        return f"loaded, {len(retriever.index.entries)} entries"
    from helpdesk.knowledge.curation import seed

    settings = services.settings
    memo = {} if memo is None else memo
    try:
        knowledge_base = services.knowledge_base
        seed(knowledge_base, settings.kb_source)  # a new installation's first look
        fingerprint = (index_fingerprint(None, settings.kb_index_dir), knowledge_base.revision())
        if memo.get("fingerprint") != fingerprint:
            manifest = check_index(services.knowledge_entries(), settings.kb_index_dir)
            memo.update(fingerprint=fingerprint, entries=manifest.get("entries"))
    except IndexMissingError as error:
        raise CheckFailed("index missing: run `helpdesk kb build`") from error
    except IndexStaleError as error:
        raise CheckFailed("index stale: run `helpdesk kb build`") from error
    except FaqSourceError as error:
        raise CheckFailed("FAQ sources invalid: `helpdesk kb build` says why") from error
    return f"built, {memo['entries']} entries, loaded at the first question"


def action_server_checks(services: Any, memo: dict | None = None) -> list[Check]:
    """What the action server's `/healthz` checks (see the module docstring).

    Args:
        services: The helpdesk services (`helpdesk.services.Services`).
        memo: Kept between calls: the last good check of the FAQ index on disk.
    """

    def backend() -> None:
        services.backend_http.ping(BACKEND_TIMEOUT)

    return [
        database_check(lambda: services.session_factory),
        Check("faq_index", lambda: faq_index_probe(services, memo)),
        Check("backend", backend, required=False),
    ]


def attach(app: Sanic, services: Any = None) -> None:
    """Add `/healthz` and `/metrics` to the action server's app.

    Args:
        app: The action server's Sanic app (`rasa_sdk.endpoint.create_app`).
        services: The helpdesk services (default: the process-wide ones, looked up when a
            request comes, never at start).
    """

    def current() -> Any:
        if services is not None:
            return services
        from helpdesk.services import get_services

        return get_services()

    memo: dict = {}

    async def healthz(request: Request) -> HTTPResponse:
        report = await asyncio.to_thread(run_checks, action_server_checks(current(), memo))
        return response.json(report.as_dict(), status=report.http_status)

    async def metrics_page(request: Request) -> HTTPResponse:
        token = current().settings.metrics_token
        if not metrics.scrape_allowed(request.ip, request.headers, token):
            return response.json({"error": "forbidden"}, status=403)
        return response.raw(metrics.render(), content_type=metrics.CONTENT_TYPE)

    app.add_route(healthz, "/healthz", methods=["GET"], name="ops_healthz")
    app.add_route(metrics_page, "/metrics", methods=["GET"], name="ops_metrics")


@hookimpl
def attach_sanic_app_extensions(app: Any) -> None:
    """rasa-sdk's hook, called once the app exists and before it is served."""
    attach(app)
