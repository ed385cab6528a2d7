"""A citizen's data requests end to end on WhatsApp (issue 17): "data saya" answered with the
summary of what is held, "hapus data saya" approved by a supervisor in the desk and carried
out by the sweeper once the conversation is quiet - after which nothing of the citizen is left
in any store but the anonymised figures and the audit trail's (masked) record of the deletion.

The whole stack runs (Rasa with the WhatsApp channel against a fake Graph API, the action
server, the backend simulator, the agent desk, the sweeper) on SQLite, as `make run` does.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sqlalchemy import create_engine, inspect, select, text

from tests.support.fake_whatsapp import TOKEN, WHATSAPP_BLOCK, FakeGraph, deliver, whatsapp_env
from tests.support.handoff_play import desk_services, wait_for
from tests.support.stack import BIN, DEFAULT_CREDENTIALS, MODEL, Stack

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live

PHONE = "6281377788899"
NAME = "Rina Wulandari"
NIK = "3273015506880004"
SUPERVISOR = "supervisor-pdp"
PASSWORD = "kata-sandi-supervisor-pdp"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def stack(graph: FakeGraph) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env = {
        **whatsapp_env(graph),
        "RASA_API_TOKEN": TOKEN,
        "HELPDESK_IDLE_SECONDS": "4",
        "HELPDESK_ERASURE_QUIET_SECONDS": "8",
    }
    credentials = DEFAULT_CREDENTIALS + WHATSAPP_BLOCK
    with Stack(rasa=True, desk=True, sweeper=True, env=env, credentials=credentials) as running:
        yield running


class Chat:
    """The citizen's side: each message is a new signed delivery; waits for the reply."""

    def __init__(self, stack: Stack, graph: FakeGraph) -> None:
        self.stack, self.graph, self.count = stack, graph, 0

    def say(self, message: str, expect: str, timeout: float = 60) -> list[str]:
        """Send `message`; the texts sent back since, once one of them holds `expect`."""
        before = len(self.graph.texts_to(PHONE))
        self.count += 1
        sent = deliver(self.stack, PHONE, NAME, message, f"wamid.pdp.{self.count}")
        assert sent.status_code == 200

        def answered() -> list[str] | None:
            new = self.graph.texts_to(PHONE)[before:]
            return new if any(expect in t for t in new) else None

        return wait_for(answered, timeout=timeout, what=f"a reply with {expect!r} to {message!r}")


def supervisor_session(stack: Stack) -> tuple[requests.Session, str]:
    """A supervisor made with the CLI, logged in to the desk; (session, CSRF token)."""
    made = subprocess.run(
        [str(BIN / "helpdesk"), "desk", "add-user", "--username", SUPERVISOR, "--role"]
        + ["supervisor", "--password-stdin"],
        input=PASSWORD + "\n",
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    http = requests.Session()
    token = CSRF_FIELD.search(http.get(f"{stack.desk_url}/login", timeout=10).text)
    assert token, "no login form"
    login = http.post(
        f"{stack.desk_url}/login",
        data={"csrf_token": token.group(1), "username": SUPERVISOR, "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 303, login.text[:300]
    page = http.get(f"{stack.desk_url}/privacy/requests", timeout=10)
    token = CSRF_FIELD.search(page.text) or CSRF_FIELD.search(
        http.get(f"{stack.desk_url}/", timeout=10).text
    )
    return http, token.group(1) if token else ""


def everything_mentioning(stack: Stack, needles: tuple[str, ...]) -> list[str]:
    """Every row of every table of the helpdesk database and of Rasa's tracker store that
    holds one of `needles`, as "table: row"."""
    found = []
    from helpdesk.settings import Settings

    settings = Settings.from_env(stack.env)
    urls = {settings.effective_database_url, settings.effective_tracker_store_url}
    for url in urls:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                for table in inspect(engine).get_table_names():
                    for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                        line = " | ".join(str(value) for value in row)
                        if any(needle in line for needle in needles):
                            found.append(f"{table}: {line[:300]}")
        finally:
            engine.dispose()
    return found


def test_a_copy_then_an_erasure_leave_nothing_of_the_citizen(stack, graph) -> None:
    chat = Chat(stack, graph)
    chat.say("halo", "Silakan pilih layanan")
    chat.say("apa itu sp2d", "Surat Perintah Pencairan Dana")
    chat.say(f"nik saya {NIK}, kenapa sp2d saya belum cair", "")  # any reply
    assert everything_mentioning(stack, (PHONE,)), "the conversation was not stored"

    # "data saya": confirmed, answered with the summary there and then.
    chat.say("data saya", "salinan data pribadi")
    texts = chat.say("ya", "Data yang kami simpan tentang Anda")
    summary = next(t for t in texts if "Data yang kami simpan" in t)
    assert "pertanyaan yang Anda ajukan" in summary and "PD-" in summary

    # "hapus data saya": confirmed, recorded, waiting for a supervisor (the profile's default).
    chat.say("hapus data saya", "tidak dapat dikembalikan")
    texts = chat.say("ya", "akan diperiksa oleh petugas")
    references = re.findall(r"PD-\d{8}-[A-Z]{6}", " ".join(texts))
    assert references, texts

    with desk_services(stack) as services:
        pending = services.data_requests.repository.recent(status="pending")
        assert [r.reference for r in pending] == references[-1:]
        request_id = pending[0].id

        http, token = supervisor_session(stack)
        decided = http.post(
            f"{stack.desk_url}/privacy/requests/{request_id}/decide",
            data={"csrf_token": token, "decision": "approve"},
            allow_redirects=False,
            timeout=10,
        )
        assert decided.status_code == 303, decided.text[:300]

        def carried_out():
            record = services.data_requests.repository.get(request_id)
            return record if record.status == "completed" else None

        done = wait_for(carried_out, timeout=120, what="the sweeper to carry out the erasure")
        assert done.sender_id is None and done.outcome["tracker_events"] > 0

        # Nothing of the citizen in any table of either database...
        left = everything_mentioning(stack, (PHONE, NIK, NAME, "Rina"))
        assert not left, "left after the erasure:\n" + "\n".join(left[:20])
        # ...but the figures (anonymised) and the audit trail's record of it.
        with services.session_factory() as session:
            from helpdesk.storage.models import Conversation, QuestionLog

            senders = set(session.scalars(select(QuestionLog.sender_id)))
            assert "anonim" in senders
            assert "anonim" in set(session.scalars(select(Conversation.sender_id)))
        actions = [r.action for r in services.audit.repository.walk()]
        assert "privacy.request.erasure" in actions and "privacy.erasure.done" in actions
        assert services.audit.verify().ok
