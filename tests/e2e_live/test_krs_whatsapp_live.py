"""The Klinik Rumah Swadaya profile end to end on WhatsApp: signed Meta deliveries (text and
pressed buttons) into the whole assistant started with HELPDESK_PROFILE=krs, answers out to a
fake Graph API; the consultation collects name, address and phone (a bad phone re-asked),
"kembali" goes back, the income bracket routes to the MBR rules, and the idle sweeper's
goodbye gives the clinic's website.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.fake_whatsapp import (
    TOKEN,
    WHATSAPP_BLOCK,
    FakeGraph,
    deliver,
    press,
    whatsapp_env,
)
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

ROOT = Path(__file__).resolve().parents[2]
PHONE = "6281377712345"
NAME = "Siti Aminah"

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
    env = {
        **whatsapp_env(graph),
        "RASA_API_TOKEN": TOKEN,
        "HELPDESK_IDLE_SECONDS": "3",
        "HELPDESK_PROFILE": "krs",
    }
    with Stack(rasa=True, env=env, credentials=DEFAULT_CREDENTIALS + WHATSAPP_BLOCK) as running:
        yield running


class Citizen:
    """One WhatsApp user: types, presses buttons, waits for what the assistant sends."""

    def __init__(self, stack: Stack, graph: FakeGraph) -> None:
        self.stack, self.graph, self.count = stack, graph, 0
        self.prefix = f"wamid.krs.{uuid.uuid4().hex[:8]}"  # a delivery id is answered once

    def _id(self) -> str:
        self.count += 1
        return f"{self.prefix}.{self.count}"

    def says(self, text: str, expect: str) -> list[str]:
        seen = len(self.graph.texts_to(PHONE))
        assert deliver(self.stack, PHONE, NAME, text, self._id()).status_code == 200
        return self._wait(seen, expect)

    def presses(self, title: str, expect: str) -> list[str]:
        seen = len(self.graph.texts_to(PHONE))
        options = self.graph.options_to(PHONE)
        option = next((o for o in options if o[1].startswith(title)), None)
        assert option is not None, f"no button {title!r} in {options}"
        rows = self.graph.bodies[-1].get("interactive", {}).get("type") == "list"
        assert press(self.stack, PHONE, NAME, option, self._id(), list_row=rows).status_code == 200
        return self._wait(seen, expect)

    def _wait(self, seen: int, expect: str) -> list[str]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = self.graph.texts_to(PHONE)[seen:]
            if any(expect in text for text in new):
                return new
            time.sleep(0.2)
        raise AssertionError(f"{expect!r} never came; new: {self.graph.texts_to(PHONE)[seen:]}")


def test_the_krs_consultation_on_whatsapp(stack, graph) -> None:
    citizen = Citizen(stack, graph)

    greeting = citizen.says("halo", "Klinik Rumah Swadaya")
    assert any(text.startswith("Selamat") and NAME in text for text in greeting)
    citizen.presses("1. Konsultasi", "boleh kami tahu nama")
    citizen.says(NAME, "Di mana alamat rumah")
    citizen.says("Desa Sukamaju, Kecamatan Ciawi, Kabupaten Bogor", "nomor HP/WhatsApp")
    citizen.says("nomor saya 0812", "Nomor HP belum sesuai")
    citizen.says("0812 3456 7890", "Silakan pilih topik konsultasi")
    citizen.presses("Perencanaan Rumah", "Perencanaan rumah. Apa yang ingin")
    citizen.says("kembali", "Silakan pilih topik konsultasi")
    citizen.presses("Perencanaan Rumah", "Perencanaan rumah. Apa yang ingin")
    citizen.presses("Bantuan dan subsidi", "berapa penghasilan rumah tangga")
    citizen.presses("Di bawah Rp8,5 juta", "Masyarakat Berpenghasilan Rendah")
    answer = citizen.presses("Bedah rumah (BSPS)", "Apakah jawaban ini sesuai?")
    assert any("calon penerima BSPS" in text for text in answer)


def test_the_idle_goodbye_gives_the_clinics_website(stack, graph) -> None:
    citizen = Citizen(stack, graph)
    citizen.says("menu", "Silakan pilih layanan")
    time.sleep(4)  # HELPDESK_IDLE_SECONDS=3
    env = {**stack.env, "RASA_URL": stack.rasa_url, "RASA_API_TOKEN": TOKEN}
    subprocess.run(
        [str(Path(sys.executable).parent / "helpdesk"), "sweeper", "--once"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    texts = graph.wait_for(PHONE, "Sesi chat berakhir")
    goodbye = next(text for text in texts if "Sesi chat berakhir" in text)
    assert "Informasi lengkap: https://perumahan.pu.go.id" in goodbye
