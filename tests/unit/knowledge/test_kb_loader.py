"""Loader and CSV import: valid sources load; every kind of error names the file and entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpdesk.knowledge.loader import FaqSourceError, import_csv, load_faqs


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_a_folder_of_yml_and_yaml_files_in_sorted_order(faq_dir: Path) -> None:
    entries = load_faqs(faq_dir)

    assert [e.id for e in entries] == ["sakti-reset-password", "sp2d-pengertian", "domain-daftar"]
    first = entries[0]
    assert first.alternatives == ("lupa password sakti",)
    assert first.answer == "Hubungi admin satker untuk reset password SAKTI."
    assert first.file and first.file.endswith("a.yml")
    assert entries[2].source == "https://pandi.id"


def test_loads_a_single_file(faq_dir: Path) -> None:
    assert [e.id for e in load_faqs(faq_dir / "b.yaml")] == ["domain-daftar"]


def test_duplicate_id_across_files_names_both_files(faq_dir: Path) -> None:
    _write(
        faq_dir / "c.yml",
        "version: 1\nfaqs:\n  - id: sp2d-pengertian\n    category: X\n"
        "    question: Lagi?\n    answer: Ya.\n",
    )
    with pytest.raises(FaqSourceError) as err:
        load_faqs(faq_dir)
    message = str(err.value)
    assert "c.yml" in message and "a.yml" in message and "sp2d-pengertian" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - id: x1\n    category: A\n    question: Apa?\n    answer: ''\n", "'answer'"),
        ("  - id: x1\n    category: A\n    question: Apa?\n", "'answer'"),
        ("  - id: x1\n    category: A\n    question: '  '\n    answer: Jawab.\n", "'question'"),
        ("  - id: x1\n    category: A\n    answer: Jawab.\n", "'question'"),
        (
            "  - id: x1\n    category: A\n    question: Apa?\n    answer: J.\n    jawaban: J.\n",
            "unknown key(s) jawaban",
        ),
        (
            "  - id: x1\n    category: A\n    question: Apa?\n    answer: J.\n"
            "    alternatives: 3\n",
            "'alternatives'",
        ),
    ],
)
def test_invalid_entry_names_file_and_entry(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path / "bad.yml", "version: 1\nfaqs:\n" + body)

    with pytest.raises(FaqSourceError) as err:
        load_faqs(path)

    message = str(err.value)
    assert "bad.yml" in message
    assert "entry #1 (id 'x1')" in message
    assert expected in message


def test_entry_without_id_is_named_by_position(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "f.yml",
        "version: 1\nfaqs:\n  - id: ok\n    category: A\n    question: Q?\n    answer: A.\n"
        "  - category: A\n    question: Q2?\n    answer: A.\n",
    )
    with pytest.raises(FaqSourceError, match=r"f\.yml: entry #2: 'id' is missing"):
        load_faqs(path)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.yml", "version: 1\nfaqs:\n  - id: [unclosed\n")
    with pytest.raises(FaqSourceError, match=r"broken\.yml: not valid YAML"):
        load_faqs(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\nfaqs: []\n", "unsupported version 2"),
        ("faqs: []\n", "unsupported version None"),
        ("version: 1\nfaqs: {}\n", "'faqs' must be a list"),
        ("version: 1\nfaqs: []\nextra: 1\n", "unknown top-level key(s) extra"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_bad_file_shape(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path / "shape.yml", text)
    with pytest.raises(FaqSourceError) as err:
        load_faqs(path)
    assert "shape.yml" in str(err.value) and expected in str(err.value)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FaqSourceError, match="no such file or folder"):
        load_faqs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaqSourceError, match=r"no \*\.yml"):
        load_faqs(tmp_path / "empty")


def test_faq_source_error_is_a_value_error() -> None:
    assert issubclass(FaqSourceError, ValueError)


CSV_OK = (
    "id,category,question,answer,alternatives\n"
    'kppn-jam,KPPN,Kapan jam layanan KPPN?,"Senin-Jumat,\n08.00-16.00 WIB.",'
    "jam buka kppn | kppn buka jam berapa\n"
    "sp2d-apa,SP2D,Apa itu SP2D?,Surat Perintah Pencairan Dana.,\n"
)


def test_import_csv_writes_a_contract_shaped_file_that_loads(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "faq.csv", CSV_OK)
    out = tmp_path / "out" / "faq.yml"

    count = import_csv(csv_path, out)

    assert count == 2
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert data["faqs"][0]["alternatives"] == ["jam buka kppn", "kppn buka jam berapa"]
    assert "alternatives" not in data["faqs"][1]
    entries = load_faqs(out)
    assert [e.id for e in entries] == ["kppn-jam", "sp2d-apa"]
    assert entries[0].answer == "Senin-Jumat,\n08.00-16.00 WIB."


def test_import_csv_rejects_missing_columns(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "faq.csv", "id,question,answer\nx,Q?,A.\n")
    with pytest.raises(FaqSourceError, match=r"faq\.csv: missing column\(s\) category"):
        import_csv(csv_path, tmp_path / "out.yml")
    assert not (tmp_path / "out.yml").exists()


def test_import_csv_names_the_bad_row(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "faq.csv", "id,category,question,answer\nok,A,Q?,A.\nbad,A,Q2?,\n")
    with pytest.raises(FaqSourceError) as err:
        import_csv(csv_path, tmp_path / "out.yml")
    assert "faq.csv line 3" in str(err.value) and "'bad'" in str(err.value)
    assert "'answer'" in str(err.value)


def test_import_csv_rejects_duplicate_ids(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "faq.csv", "id,category,question,answer\nx,A,Q?,A.\nx,A,Q2?,B.\n")
    with pytest.raises(FaqSourceError, match="duplicate id 'x'"):
        import_csv(csv_path, tmp_path / "out.yml")
