"""A very long message against the whole assistant: answered in seconds, with a polite note,
the Rasa server's memory bounded, and other citizens not held up (issue 11, item 4).

Before `components/length_guard.py` one 100 KB message took the Rasa server past 12 GB in
18 s, and 30,000 characters delayed everyone else from 0.1 s to 4 s (DIET's cost grows with
the square of the length). Two paths are tried, because each has its own limits in front:

* WhatsApp, 110 KB (the size of the original finding): Meta allows much less, but a forged or
  odd delivery may carry it. The channel cuts the text to 10,000 characters, NLU reads 1,000.
* REST, 60 KB of text: the REST channel refuses bodies over 64 KB with 413 before parsing
  (`connectors/rest.py`), so 110 KB cannot reach NLU there; 60 KB still does, with no channel
  cut in between, which tests the NLU guard on its own.

Needs the model trained with the guard in its pipeline (`make train` after config.yml).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.support.fake_whatsapp import TOKEN, WHATSAPP_BLOCK, FakeGraph, deliver, whatsapp_env
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

pytestmark = pytest.mark.live

#: The start of the polite note (`utter_message_truncated` in domain/common.yml).
NOTE = "Pesan Anda cukup panjang"
#: The Rasa server's memory may not pass this while it reads the long message (it idles at
#: about 1.1 GB with the model loaded and moved by under 1 MB in our runs; the unguarded
#: 100 KB message passed 12 GB).
RSS_LIMIT_KB = 1_500_000
#: A question about SP2D, padded with a long complaint: what a citizen pastes.
SENTENCE = "Apa itu SP2D dan kapan dana saya cair? Saya sudah menunggu lama sekali. "


def long_text(size: int) -> str:
    return (SENTENCE * (size // len(SENTENCE) + 1))[:size]


def rss_kb(pid: int) -> int:
    """VmRSS of a process (KB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssWatch:
    """Samples a process's RSS every 50 ms in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> "RssWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def rest(stack: Stack, sender: str, text: str) -> tuple[float, list[str]]:
    """POST a REST message; the seconds it took and the texts answered."""
    started = time.monotonic()
    reply = requests.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=120)
    elapsed = time.monotonic() - started
    assert reply.status_code == 200, reply.text[:300]
    return elapsed, [m.get("text") or "" for m in reply.json()]


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def stack(graph: FakeGraph) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env = {**whatsapp_env(graph), "RASA_API_TOKEN": TOKEN}
    with Stack(rasa=True, env=env, credentials=DEFAULT_CREDENTIALS + WHATSAPP_BLOCK) as running:
        # Warm up: the first message of a fresh server loads lazily built parts.
        for sender in ("warmup-1", "warmup-2"):
            rest(running, sender, "apa itu sp2d")
        yield running


def rasa_pid(stack: Stack) -> int:
    return dict(stack.procs)["rasa"].pid


def test_a_60_kb_rest_message_is_answered_quickly_with_the_note(stack: Stack) -> None:
    pid = rasa_pid(stack)
    baseline = rss_kb(pid)
    with RssWatch(pid) as watch, ThreadPoolExecutor(max_workers=2) as pool:
        long_reply = pool.submit(rest, stack, "budi-panjang", long_text(60_000))
        time.sleep(0.2)  # the long message is in work when the other citizen writes
        other_elapsed, other_texts = rest(stack, "siti-biasa", "apa itu sp2d")
        long_elapsed, long_texts = long_reply.result(timeout=120)
    print(
        f"REST 60 KB: {long_elapsed:.2f} s; other user {other_elapsed:.2f} s; "
        f"RSS {baseline} KB -> peak {watch.peak} KB"
    )
    assert long_elapsed < 10, f"the long message took {long_elapsed:.1f} s"
    assert any(NOTE in text for text in long_texts), long_texts
    assert any("Surat Perintah Pencairan Dana" in text for text in long_texts), long_texts
    assert other_elapsed < 2, f"another citizen waited {other_elapsed:.1f} s"
    assert any("Surat Perintah Pencairan Dana" in text for text in other_texts), other_texts
    assert not any(NOTE in text for text in other_texts)
    assert watch.peak < RSS_LIMIT_KB, f"RSS {baseline} KB -> peak {watch.peak} KB"


def test_a_110_kb_whatsapp_message_is_answered_quickly_with_the_note(
    stack: Stack, graph: FakeGraph
) -> None:
    pid = rasa_pid(stack)
    phone = "6281234500110"
    with RssWatch(pid) as watch:
        started = time.monotonic()
        response = deliver(stack, phone, "Budi", long_text(110_000), "wamid.long.110kb")
        assert response.status_code == 200
        graph.wait_for(phone, NOTE, timeout=30)
        elapsed = time.monotonic() - started
        # Meanwhile the server still answers others at once.
        other_elapsed, other_texts = rest(stack, "andi-biasa", "apa itu sp2d")
    print(
        f"WhatsApp 110 KB: {elapsed:.2f} s; other user {other_elapsed:.2f} s; peak {watch.peak} KB"
    )
    assert elapsed < 10, f"the long WhatsApp message was answered after {elapsed:.1f} s"
    assert other_elapsed < 2 and any("Surat Perintah" in t for t in other_texts)
    assert watch.peak < RSS_LIMIT_KB, f"peak RSS {watch.peak} KB"


def test_the_ticket_keeps_the_whole_complaint(stack: Stack) -> None:
    """A long complaint typed as the ticket's chronology is stored whole (not cut to 1,000)."""
    sender = "rina-tiket"
    line = "Dana SP2D kami belum masuk ke rekening satker sejak tanggal 10 bulan lalu. "
    complaint = (line * 200)[:8_000]
    _, texts = rest(stack, sender, "buat tiket")
    assert any("judul" in t.lower() for t in texts), texts
    _, texts = rest(stack, sender, "SP2D belum cair sejak bulan lalu")
    assert any("kronologi" in t.lower() for t in texts), texts
    rest(stack, sender, complaint)
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": TOKEN},
        timeout=30,
    ).json()
    chronology = tracker["slots"].get("ticket_chronology")
    assert chronology is not None and len(chronology) >= 7_900, (chronology or "")[:200]
