"""The knowledge managers' workspace in the desk: entries, drafts, publication, history; roles."""

from __future__ import annotations

import html

import pytest

from helpdesk.knowledge.changes import changes, word_diff
from helpdesk.storage.knowledge_base import FaqContent

SP2D = FaqContent(
    category="SP2D",
    question="Apa itu SP2D?",
    answer="SP2D adalah Surat Perintah Pencairan Dana.",
    alternatives=("pengertian sp2d",),
    file="treasury",
)
SAKTI = FaqContent(
    category="SAKTI", question="Bagaimana reset password SAKTI?", answer="Hubungi admin satker."
)


@pytest.fixture
def kb(services):
    repository = services.knowledge_base
    repository.import_contents(
        [("sp2d-pengertian", SP2D), ("sakti-reset", SAKTI)], author="system", publish=True
    )
    return repository


def text_of(page) -> str:
    return html.unescape(page.text)


async def test_a_knowledge_manager_lands_on_the_knowledge_base_and_sees_no_conversations(
    desk, kb
) -> None:
    client, _ = await desk.client_for("knowledge")

    home = await client.get("/")
    assert home.status == 302 and home.location == "/knowledge"
    listing = await client.get("/knowledge")
    assert listing.status == 200
    assert "Apa itu SP2D?" in text_of(listing) and "Basis Pengetahuan" in text_of(listing)
    assert 'href="/tickets"' not in listing.text and "Antrean" not in listing.text
    assert "/agents/me/status" not in listing.text  # takes no conversations: no presence
    for path in ("/api/queue", "/tickets", "/conversations/1", "/reports", "/admin"):
        assert (await client.get(path)).status == 403, path


async def test_an_agent_reads_the_knowledge_base_but_does_not_write_it(desk, kb) -> None:
    client, _ = await desk.client_for("agent")

    page = await client.get("/knowledge/sp2d-pengertian")
    assert page.status == 200 and "Surat Perintah Pencairan Dana" in page.text
    assert "/knowledge/sp2d-pengertian/edit" not in page.text
    assert (await client.get("/knowledge/new")).status == 403
    assert (await client.post("/knowledge/sp2d-pengertian/publish")).status == 403
    assert (await client.post("/knowledge/sp2d-pengertian/retire")).status == 403


async def test_the_list_searches_and_filters(desk, kb) -> None:
    client, _ = await desk.client_for("knowledge")
    kb.save_draft("sakti-reset", SAKTI, author="km1", note="ejaan")

    found = text_of(await client.get("/knowledge?q=pencairan+dana"))
    assert "Apa itu SP2D?" in found and "reset password SAKTI" not in found
    by_category = text_of(await client.get("/knowledge?category=SAKTI"))
    assert "reset password SAKTI" in by_category and "Apa itu SP2D?" not in by_category
    drafts = text_of(await client.get("/knowledge?state=draft"))
    assert "reset password SAKTI" in drafts and "Apa itu SP2D?" not in drafts
    assert "1 dari 2 entri" in drafts


async def test_an_edit_is_a_draft_until_published_then_history_shows_the_change(desk, kb) -> None:
    client, user = await desk.client_for("knowledge")
    form = {
        "category": "SP2D",
        "question": "Apa itu SP2D?",
        "alternatives": "pengertian sp2d\nsp2d itu apa sih\n",
        "answer": "SP2D adalah Surat Perintah Pencairan Dana yang diterbitkan KPPN.",
        "source": "",
        "note": "pertanyaan warga",
    }

    saved = await client.post("/knowledge/sp2d-pengertian/edit", form)

    assert saved.status == 303 and saved.location == "/knowledge/sp2d-pengertian"
    assert kb.published()[0].content == SP2D  # not yet answered with
    page = text_of(await client.get("/knowledge/sp2d-pengertian"))
    assert "Draf versi 2" in page and "<ins> yang diterbitkan KPPN</ins>" in page

    published = await client.post("/knowledge/sp2d-pengertian/publish")

    assert published.status == 303
    live = {v.slug: v for v in kb.published()}["sp2d-pengertian"]
    assert live.content.alternatives == ("pengertian sp2d", "sp2d itu apa sih")
    assert live.published_by == user.username and live.note == "pertanyaan warga"
    assert kb.revision() == 2
    history = text_of(await client.get("/knowledge/sp2d-pengertian"))
    assert "Versi 2 · terbit" in history and "Versi 1 · digantikan" in history
    assert "sp2d itu apa sih</ins>" in history


async def test_a_new_entry_is_checked_and_saved_as_a_draft(desk, kb) -> None:
    client, _ = await desk.client_for("supervisor")
    form = {
        "id": "kppn-jam",
        "category": "KPPN",
        "question": "Kapan jam layanan KPPN?",
        "alternatives": "",
        "answer": "",
        "file": "treasury",
    }

    refused = await client.post("/knowledge/new", form)
    assert refused.status == 400 and "Jawaban wajib diisi." in text_of(refused)
    taken = await client.post("/knowledge/new", {**form, "id": "sakti-reset", "answer": "x"})
    assert taken.status == 400 and "sudah dipakai" in text_of(taken)
    bad_id = await client.post("/knowledge/new", {**form, "id": "kppn jam!", "answer": "x"})
    assert bad_id.status == 400 and "Kode hanya boleh" in text_of(bad_id)

    form["answer"] = "Senin sampai Jumat, 08.00-16.00."
    assert (await client.post("/knowledge/new", form)).status == 303
    entry = kb.entry("kppn-jam")
    assert entry.published is None and entry.draft.content.file == "treasury"
    assert "Draf baru" in text_of(await client.get("/knowledge?state=new"))

    discarded = await client.post("/knowledge/kppn-jam/discard")
    assert discarded.status == 303 and discarded.location == "/knowledge"
    assert kb.entry("kppn-jam") is None


async def test_a_retirement_is_drafted_then_published(desk, kb) -> None:
    client, _ = await desk.client_for("knowledge")

    assert (await client.post("/knowledge/sakti-reset/retire")).status == 303
    assert len(kb.published()) == 2
    page = text_of(await client.get("/knowledge/sakti-reset"))
    assert "memensiunkan entri" in page

    assert (await client.post("/knowledge/sakti-reset/publish")).status == 303
    assert [v.slug for v in kb.published()] == ["sp2d-pengertian"]
    assert "Dipensiunkan" in text_of(await client.get("/knowledge/sakti-reset"))
    assert (await client.post("/knowledge/sakti-reset/retire")).status == 404
    assert (await client.post("/knowledge/sakti-reset/publish")).status == 404
    assert (await client.get("/knowledge/tidak-ada")).status == 404


async def test_the_figures_come_from_what_citizens_did(desk, kb, services) -> None:
    client, _ = await desk.client_for("knowledge")
    questions = services.questions
    for _ in range(3):
        questions.record("6281", "apa itu sp2d", answered=True, faq_id="sp2d-pengertian")
    questions.record("6282", "sp2d?", answered=False, faq_id="sp2d-pengertian")  # "Tidak"
    services.csat.add("6281", 4, question="apa itu sp2d", faq_id="sp2d-pengertian")
    services.csat.add("6283", 5, question="apa itu sp2d", faq_id="sp2d-pengertian")

    page = text_of(await client.get("/knowledge/sp2d-pengertian"))

    assert "Dijawab: 3 kali" in page.replace("<strong>", "").replace("</strong>", "")
    assert "67%" in page and "4.5" in page and "(2 penilaian)" in page


def test_a_word_diff_marks_what_went_and_what_came() -> None:
    assert word_diff("Hubungi admin satker.", "Hubungi admin satker Anda.") == (
        ("=", "Hubungi admin satker"),
        ("+", " Anda"),
        ("=", "."),
    )
    assert word_diff("Buka pukul 08.00", "Buka pukul 09.00") == (
        ("=", "Buka pukul "),
        ("-", "08"),
        ("+", "09"),
        ("=", ".00"),
    )
    found = changes(SP2D, SP2D)
    assert found == []
    new = changes(None, SAKTI)
    assert [c.field for c in new] == ["category", "question", "answer"]


async def test_the_desk_exports_what_helpdesk_kb_export_writes_and_imports_it_back(
    desk, kb
) -> None:
    import io
    import zipfile

    from helpdesk.knowledge.curation import export_files

    client, _ = await desk.client_for("knowledge")
    async with client.http.get(desk.url + "/knowledge/export?format=yaml") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    files = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    assert files == export_files(kb)
    csv_page = await client.get("/knowledge/export?format=csv")
    assert csv_page.status == 200 and "sp2d-pengertian" in csv_page.text

    edited = files["treasury.yml"].replace("Surat Perintah Pencairan Dana", "surat perintah")
    upload = io.BytesIO(edited.encode("utf-8"))
    upload.name = "treasury.yml"
    page = await client.post("/knowledge/import", {"file": upload})

    assert page.status == 200
    assert "Disimpan sebagai draf: 0 entri baru, 1 berubah, 0 tidak berubah" in text_of(page)
    assert kb.entry("sp2d-pengertian").draft is not None  # to review, not yet answered with
    assert kb.revision() == 1

    upload = io.BytesIO(edited.encode("utf-8"))
    upload.name = "treasury.yml"
    page = await client.post("/knowledge/import", {"file": upload, "publish": "1"})
    assert "Diterbitkan: 0 entri baru, 1 berubah" in text_of(page)
    assert kb.revision() == 2


async def test_a_bad_upload_is_refused_with_the_reason(desk, kb) -> None:
    import io

    client, _ = await desk.client_for("knowledge")
    broken = io.BytesIO(b"version: 1\nfaqs:\n  - id: x\n    category: A\n    question: Q?\n")
    broken.name = "baru.yml"
    page = await client.post("/knowledge/import", {"file": broken})
    assert page.status == 400
    assert "baru.yml" in text_of(page) and "'answer' is missing" in text_of(page)
    assert "/tmp" not in page.text  # the server's temporary path is not shown

    other = io.BytesIO(b"apa saja")
    other.name = "catatan.txt"
    assert (await client.post("/knowledge/import", {"file": other})).status == 400
    agent, _ = await desk.client_for("agent")
    assert (await agent.get("/knowledge/import")).status == 403


@pytest.fixture
def live(services, kb):
    """The retriever in use, over the published entries (a 4-d fake embedder)."""
    from helpdesk.knowledge.curation import published_entries
    from helpdesk.knowledge.retriever import retriever_for_entries
    from tests.unit.knowledge.conftest import FakeEmbedder

    retriever = retriever_for_entries(published_entries(kb), FakeEmbedder(), threshold=0.5)
    services._retriever = retriever
    return retriever


async def test_try_shows_the_decision_now_and_with_the_drafts(desk, kb, live) -> None:
    client, _ = await desk.client_for("knowledge")
    question = "bagaimana cara reset password sakti"

    page = text_of(await client.get("/knowledge/try?q=" + question.replace(" ", "+")))

    assert "Sekarang (versi terbit)" in page and "Dijawab" in page
    assert "menjawab dengan “Bagaimana reset password SAKTI?”" in page
    assert "Tidak ada draf" in page

    kb.save_draft("sakti-reset", SAKTI, author="km1", retire=True)  # retiring the answer
    page = text_of(await client.get("/knowledge/try?q=" + question.replace(" ", "+")))
    assert "Setelah semua draf diterbitkan" in page
    after = page.split("Setelah semua draf diterbitkan")[-1]
    assert "Ditolak (tidak yakin)" in after and "tidak menebak" in after
    assert (await client.get("/knowledge/try")).status == 200  # the empty form


async def test_try_explains_an_empty_question(desk, kb, live) -> None:
    client, _ = await desk.client_for("agent")
    page = text_of(await client.get("/knowledge/try?q=halo+min"))
    assert "Diminta menulis pertanyaan" in page
