"""A broadcast to 1,000 recipients, the sender killed (-9) in the middle and started again:
every opted-in number gets exactly one message, no opted-out number gets any, and the
sending never goes faster than the configured rate.

The sender runs as the operators run it (`helpdesk broadcast run`, its own process) against a
fake Graph API that answers slowly (so requests are in flight when the process dies) and sends
each accepted message's status callback a moment later, through the WhatsApp channel's own
parsing and recording (`parse_webhook`, `record_statuses`), as Meta's webhook would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.whatsapp.payloads import parse_webhook
from connectors.whatsapp.statuses import record_statuses
from helpdesk.broadcasts.service import BroadcastService
from helpdesk.conversation.message_templates import load_registry
from helpdesk.profile import load_profile
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from helpdesk.storage.broadcasts import BroadcastRepository
from helpdesk.storage.enums import BroadcastStatus

ROOT = Path(__file__).resolve().parents[3]
RECIPIENTS = 1000
OPTED_OUT = 50
RATE = 150.0
#: Killed after this many requests: inside a batch of claims (the sender claims 50 at once).
KILL_AFTER = 473
PHONE_NUMBER_ID = "109876543210"


class SlowGraph:
    """Records each message (time, number); answers after `delay`; calls back after it."""

    def __init__(self, delay: float = 0.02) -> None:
        self.sent: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.sent.append((time.monotonic(), body["to"]))
                    message_id = f"wamid.b{len(fake.sent)}"
                threading.Timer(0.05, fake.callback, (message_id, body)).start()
                time.sleep(delay)
                reply = json.dumps({"messages": [{"id": message_id}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender was killed while waiting: the answer is lost

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v20.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def callback(self, message_id: str, body: dict[str, Any]) -> None:
        status = {
            "id": message_id,
            "status": "sent",
            "timestamp": str(int(time.time())),
            "recipient_id": body["to"],
            "biz_opaque_callback_data": body.get("biz_opaque_callback_data"),
        }
        value = {"metadata": {"phone_number_id": PHONE_NUMBER_ID}, "statuses": [status]}
        payload = {"entry": [{"changes": [{"field": "messages", "value": value}]}]}
        batch = parse_webhook(payload, phone_number_id=PHONE_NUMBER_ID)
        assert asyncio.run(record_statuses(batch.status_updates))

    def count(self) -> int:
        with self.lock:
            return len(self.sent)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services(session_factory, tmp_path):
    injected = Services(Settings(var_dir=tmp_path / "var"), session_factory=session_factory)
    set_services(injected)
    yield injected
    set_services(None)


def _sender(db_url: str, graph: SlowGraph, var_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "HELPDESK_DATABASE_URL": db_url,
        "HELPDESK_VAR_DIR": str(var_dir),
        "WHATSAPP_ACCESS_TOKEN": "token-for-tests",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_URL": graph.url,
        "HELPDESK_BROADCAST_RATE": str(RATE),
        "HELPDESK_BROADCAST_GRACE_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "helpdesk", "broadcast", "run", "--interval", "0.3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_killed_sender_resumes_and_sends_exactly_once(db_url, services, tmp_path) -> None:
    registry = load_registry(load_profile("djpb").whatsapp_templates_file)
    repository = BroadcastRepository(services.session_factory)
    service = BroadcastService(repository, lambda: registry)
    numbers = [f"62812{n:08d}" for n in range(RECIPIENTS + OPTED_OUT)]
    for number in numbers[RECIPIENTS:]:
        repository.opt_out(number, "pesan whatsapp")
    rows = [f"{n},T{i:06d},diproses" for i, n in enumerate(numbers)]
    data = ("phone,ticket_number,status_label\n" + "\n".join(rows) + "\n").encode()
    upload = service.create(
        name="Uji 1000",
        template_name="status_tiket_diperbarui",
        data=data,
        consent_note="uji",
        created_by="sup",
    )
    broadcast_id = upload.broadcast.id
    service.send_now(broadcast_id)

    graph = SlowGraph()
    var_dir = tmp_path / "sender-var"
    try:
        first = _sender(db_url, graph, var_dir)
        deadline = time.monotonic() + 120
        while graph.count() < KILL_AFTER and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = graph.count()
        in_flight = repository.in_flight(broadcast_id)
        assert 0 < at_kill < RECIPIENTS

        second = _sender(db_url, graph, var_dir)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if repository.get(broadcast_id).status == BroadcastStatus.DONE:
                    break
                assert second.poll() is None, second.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        time.sleep(0.3)  # the last callbacks
    finally:
        graph.close()

    per_number = Counter(number for _, number in graph.sent)
    totals = repository.totals(broadcast_id)
    times = sorted(t for t, _ in graph.sent)
    busiest = max(
        sum(1 for t in times[i : i + int(RATE) * 2] if t - start < 1.0)
        for i, start in enumerate(times)
    )
    print(
        f"\nbroadcast crash test: {RECIPIENTS} opted in + {OPTED_OUT} opted out;"
        f" killed after {at_kill} requests with {in_flight} claimed and unsettled;"
        f" requests in all {len(graph.sent)}, numbers {len(per_number)},"
        f" most to one number {max(per_number.values())}; totals {totals};"
        f" busiest second {busiest} (rate {RATE:.0f}/s)"
    )
    assert repository.get(broadcast_id).status == BroadcastStatus.DONE
    assert set(per_number) == set(numbers[:RECIPIENTS])
    assert max(per_number.values()) == 1
    assert totals["opted_out"] == OPTED_OUT
    assert totals["sent"] + totals["delivered"] + totals["read"] == RECIPIENTS
    assert busiest <= RATE + 2
