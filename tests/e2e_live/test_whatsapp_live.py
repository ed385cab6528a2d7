"""WhatsApp end to end: signed Meta deliveries into the whole assistant, answers out to a fake
Graph API, and the idle sweeper pushing its message on WhatsApp.

Starts the real stack (tests/support/stack.py) with the WhatsApp channel in its credentials, as
`make run` does when WHATSAPP_ACCESS_TOKEN is set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.support.fake_whatsapp import (
    TOKEN,
    WHATSAPP_BLOCK,
    FakeGraph,
    deliver,
    whatsapp_env,
)
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def stack(graph: FakeGraph) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env = {**whatsapp_env(graph), "RASA_API_TOKEN": TOKEN, "HELPDESK_IDLE_SECONDS": "3"}
    with Stack(rasa=True, env=env, credentials=DEFAULT_CREDENTIALS + WHATSAPP_BLOCK) as running:
        yield running


def test_a_signed_message_is_answered_on_whatsapp_with_the_profile_name(stack, graph):
    phone = "6281234567890"
    assert deliver(stack, phone, "Budi Santoso", "halo", "wamid.in.1").status_code == 200
    texts = graph.wait_for(phone, "Budi")
    assert any(text.startswith("Selamat") for text in texts)
    # The menu (seven items) goes out as a list message.
    graph.wait_for(phone, "Silakan pilih layanan")


def test_a_redelivered_message_is_answered_once(stack, graph):
    phone = "6281234500002"
    for _ in range(2):
        assert deliver(stack, phone, "Siti", "apa itu sp2d", "wamid.in.dup").status_code == 200
    graph.wait_for(phone, "Surat Perintah Pencairan Dana")
    time.sleep(2)
    answers = [t for t in graph.texts_to(phone) if "Surat Perintah Pencairan Dana" in t]
    assert len(answers) == 1


def test_a_forged_delivery_is_refused_and_not_answered(stack, graph):
    phone = "6281234500003"
    raw = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    reply = requests.post(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        timeout=30,
    )
    assert reply.status_code == 403
    assert graph.texts_to(phone) == []


def test_sakti_reset_from_the_registered_whatsapp_number(stack, graph):
    phone = "6281234567890"  # registered for NIK 3201234567890001 in the shipped fixtures
    deliver(stack, phone, "Budi Santoso", "reset password sakti", "wamid.in.s1")
    graph.wait_for(phone, "Silakan ketik NIK Anda")
    deliver(stack, phone, "Budi Santoso", "3201234567890001", "wamid.in.s2")
    graph.wait_for(phone, "beberapa satker")
    deliver(stack, phone, "Budi Santoso", "415011", "wamid.in.s3")
    texts = graph.wait_for(phone, "Reset password SAKTI untuk satker 415011 berhasil")
    assert not any("3201234567890001" in text for text in texts)


def test_the_idle_sweeper_pushes_its_message_on_whatsapp(stack, graph):
    phone = "6281234500004"
    deliver(stack, phone, "Andi", "cek sp2d", "wamid.in.i1")
    graph.wait_for(phone, "nomor SP2D")
    time.sleep(4)  # HELPDESK_IDLE_SECONDS=3
    env = {**stack.env, "RASA_URL": stack.rasa_url, "RASA_API_TOKEN": TOKEN}
    subprocess.run(
        [str(Path(sys.executable).parent / "helpdesk"), "sweeper", "--once"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    graph.wait_for(phone, "Sesi chat berakhir")
    # The next message starts a new session with the greeting.
    deliver(stack, phone, "Andi", "halo", "wamid.in.i2")
    texts = graph.wait_for(phone, "Andi")
    assert any(text.startswith("Selamat") for text in texts)


def _helpdesk(stack, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "helpdesk", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _broadcast(stack, tmp_path: Path, recipients: str) -> dict:
    """A broadcast of the status template to `recipients` (CSV text), sent by one pass of
    the sender as operators run it."""
    path = tmp_path / "penerima.csv"
    path.write_text(recipients)
    made = _helpdesk(
        stack,
        "broadcast",
        "create",
        "--name",
        "Uji",
        "--template",
        "status_tiket_diperbarui",
        "--csv",
        str(path),
        "--consent",
        "formulir layanan",
        "--send",
    )
    _helpdesk(stack, "broadcast", "run", "--once")
    return made


def test_berhenti_stops_broadcasts_and_mulai_starts_them_again(stack, graph, tmp_path):
    phone = "6281234500011"
    assert deliver(stack, phone, "Rina", "BERHENTI", "wamid.in.stop").status_code == 200
    graph.wait_for(phone, "tidak akan lagi menerima pesan siaran")
    made = _broadcast(stack, tmp_path, f"phone,ticket_number,status_label\n{phone},T1,diproses\n")
    status = _helpdesk(stack, "broadcast", "status", str(made["id"]))
    assert status["totals"]["opted_out"] == 1 and status["status"] == "done"
    assert not [b for b in graph.bodies if b.get("to") == phone and b.get("type") == "template"]
    assert deliver(stack, phone, "Rina", "MULAI", "wamid.in.start").status_code == 200
    graph.wait_for(phone, "akan kembali menerima pesan siaran")


def test_a_broadcast_goes_out_and_its_statuses_come_back_through_the_webhook(
    stack, graph, tmp_path
):
    from tests.support.fake_whatsapp import PHONE_NUMBER_ID, SECRET, post_signed

    phone = "6281234500012"
    made = _broadcast(
        stack, tmp_path, f"phone;ticket_number;status_label\n0{phone[2:]};T2;selesai\n"
    )
    assert made["recipients"] == 1
    (body,) = [b for b in graph.bodies if b.get("to") == phone]
    assert body["type"] == "template"
    assert body["template"]["name"] == "status_tiket_diperbarui"
    status = {
        "id": "wamid.broadcast.1",
        "status": "read",
        "timestamp": str(int(time.time())),
        "recipient_id": phone,
        "biz_opaque_callback_data": body["biz_opaque_callback_data"],
    }
    value = {"metadata": {"phone_number_id": PHONE_NUMBER_ID}, "statuses": [status]}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": value}]}],
    }
    reply = post_signed(f"{stack.rasa_url}/webhooks/whatsapp/webhook", payload, SECRET)
    assert reply.status_code == 200
    totals = _helpdesk(stack, "broadcast", "status", str(made["id"]))["totals"]
    assert totals["read"] == 1
