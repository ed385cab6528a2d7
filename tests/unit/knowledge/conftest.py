"""Fixtures of the knowledge-base tests: a tiny FAQ folder and a 4-dimensional fake embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from helpdesk.knowledge.embedders import l2_normalize
from helpdesk.knowledge.models import FaqEntry

#: Dimension of the fake embedder: one per topic word group.
TOPICS = (
    ("password", "sandi", "pw", "login"),
    ("sp2d", "pencairan", "cair"),
    ("domain", "dns", "co.id"),
    ("rumah", "mbr", "pbg"),
)


class FakeEmbedder:
    """Deterministic 4-d embedder: a vector counts topic words (haystack-style test double)."""

    name = "fake-4d"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            low = text.lower()
            vec = [sum(low.count(w) for w in words) for words in TOPICS]
            rows.append([v + 0.05 for v in vec])  # never a zero vector
        return l2_normalize(np.asarray(rows, dtype=np.float32))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def entries() -> list[FaqEntry]:
    return [
        FaqEntry(
            id="sakti-reset-password",
            category="SAKTI",
            question="Bagaimana cara reset password SAKTI?",
            answer="Hubungi admin satker untuk reset password SAKTI.",
            alternatives=("lupa password sakti", "tidak bisa login sakti"),
        ),
        FaqEntry(
            id="digit-reset-password",
            category="DIGIT",
            question="Bagaimana cara reset password DIGIT?",
            answer="Gunakan menu lupa password pada halaman login DIGIT.",
        ),
        FaqEntry(
            id="sp2d-pengertian",
            category="SP2D",
            question="Apa itu SP2D?",
            answer="SP2D adalah Surat Perintah Pencairan Dana.",
            alternatives=("kepanjangan sp2d",),
        ),
        FaqEntry(
            id="domain-daftar",
            category="Domain",
            question="Bagaimana cara mendaftar domain co.id?",
            answer="Daftar melalui registrar resmi PANDI.",
        ),
        FaqEntry(
            id="rumah-mbr",
            category="Perumahan",
            question="Apa kriteria MBR untuk bantuan rumah?",
            answer="Penghasilan paling banyak Rp 7 juta (lajang) atau Rp 8 juta (menikah).",
        ),
    ]


FAQ_A = """\
version: 1
faqs:
  - id: sakti-reset-password
    category: SAKTI
    question: Bagaimana cara reset password SAKTI?
    alternatives:
      - lupa password sakti
    answer: |
      Hubungi admin satker untuk reset password SAKTI.
  - id: sp2d-pengertian
    category: SP2D
    question: Apa itu SP2D?
    answer: SP2D adalah Surat Perintah Pencairan Dana.
"""

FAQ_B = """\
version: 1
faqs:
  - id: domain-daftar
    category: Domain
    question: Bagaimana cara mendaftar domain co.id?
    answer: Daftar melalui registrar resmi PANDI.
    source: https://pandi.id
"""


@pytest.fixture
def faq_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "a.yml").write_text(FAQ_A, encoding="utf-8")
    (folder / "b.yaml").write_text(FAQ_B, encoding="utf-8")
    (folder / "notes.txt").write_text("not an FAQ file", encoding="utf-8")
    return folder
