"""Benchmarks: prints latency percentiles and throughput (`make bench`).

1. A knowledge-base query in process (retriever.answer), over the evaluation queries; then the
   same on synthetic knowledge bases of 1k and 100k entries (scripts/kb_bench.py: how the index
   is built and searched at each size).
2. The full REST round trip of a FAQ question (Rasa server + action server + SQL tracker store on
   SQLite), with 1 and with 8 concurrent conversations.

Load model: each virtual user asks 25 FAQ questions from the evaluation set, starting a new
conversation (a new sender, greeted first, not measured) every 5 questions; the same load is
then repeated with all 25 questions in one long conversation, because Rasa's cost per message
grows with the length of the session. The targets (2-core machine: round trip p50 <= 100 ms
for one user, p95 <= 300 ms for eight, zero errors) are judged on the first load; both are
printed. Everything runs on loopback with throw-away databases; figures go to
results/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from helpdesk.knowledge.embedders import OPENMP_ENVIRONMENT  # noqa: E402
from scripts.servers import free_port, wait_http  # noqa: E402

QUERIES = ROOT / "knowledge_base" / "eval" / "queries.jsonl"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def load_queries(limit: int) -> list[str]:
    lines = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line]
    in_scope = [item["query"] for item in lines if item.get("expected_id")]
    return in_scope[:limit]


def bench_in_process(queries: list[str], repeat: int) -> dict:
    from helpdesk.knowledge.retriever import build_retriever
    from helpdesk.settings import get_settings

    started = time.perf_counter()
    retriever = build_retriever(get_settings())
    load_s = time.perf_counter() - started
    for query in queries[:5]:  # warm up
        retriever.answer(query)
    timings = []
    for _ in range(repeat):
        for query in queries:
            t0 = time.perf_counter()
            retriever.answer(query)
            timings.append((time.perf_counter() - t0) * 1000)
    return {
        "queries": len(timings),
        "load_s": round(load_s, 2),
        "p50_ms": round(percentile(timings, 50), 2),
        "p95_ms": round(percentile(timings, 95), 2),
    }


def wait_up(url: str, proc: subprocess.Popen, timeout: float) -> None:
    if not wait_http(url, proc, timeout):
        raise RuntimeError(f"{url} did not answer within {timeout} s (exit code {proc.poll()})")


def post(url: str, sender: str, text: str) -> tuple[float, list]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=body, headers={"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        replies = json.loads(response.read())
    return (time.perf_counter() - t0) * 1000, replies


def run_users(
    url: str, queries: list[str], users: int, per_user: int, conversation_length: int = 0
) -> dict:
    """`users` concurrent virtual users, each asking `per_user` FAQ questions in turn.

    Each virtual user opens a new conversation (a new sender, greeted first, not measured)
    every `conversation_length` questions; 0 keeps all questions in one conversation.
    """
    timings: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(n: int) -> None:
        sender = ""
        for i in range(per_user):
            if not sender or (conversation_length and i % conversation_length == 0):
                sender = f"bench-{users}-{n}-{i}-{time.time_ns()}"
                try:
                    post(url, sender, "halo")  # session start (greeting + menu), not measured
                except Exception as exc:  # noqa: BLE001 - counted as an error
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    return
            query = queries[(n * per_user + i) % len(queries)]
            try:
                elapsed, replies = post(url, sender, query)
                if not replies:
                    raise RuntimeError("empty reply")
                with lock:
                    timings.append(elapsed)
            except Exception as exc:  # noqa: BLE001 - counted as an error
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "users": users,
        "conversation_length": conversation_length or per_user,
        "requests": len(timings),
        "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": round(percentile(timings, 50), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        "mean_ms": round(statistics.fmean(timings), 1) if timings else None,
        "throughput_rps": round(len(timings) / wall, 1) if wall else None,
    }


def bench_rest(queries: list[str], per_user: int, conversation_length: int) -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="helpdesk-bench-")
    actions_port, rasa_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        HELPDESK_VAR_DIR=tmp,
        HELPDESK_DATABASE_URL=f"sqlite:///{tmp}/helpdesk.db",
        HELPDESK_KB_INDEX=str(ROOT / "var" / "kb_index"),
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{actions_port}/webhook",
        RASA_TRACKER_STORE_URL="",
        RASA_TRACKER_DB=f"{tmp}/tracker.db",
        TF_CPP_MIN_LOG_LEVEL="2",
        # As `make run` (scripts/run_plan.py): idle OpenMP threads of the e5 embedder sleep.
        **OPENMP_ENVIRONMENT,
        # The action server answers only calls carrying this token (rasa_sdk_plugins).
        RASA_ACTIONS_TOKEN=secrets.token_urlsafe(24),
        HELPDESK_REST_TOKEN="",
    )
    env.pop("SMTP_HOST", None)
    logs = open(Path(tmp) / "servers.log", "w")  # noqa: SIM115 - closed below
    procs = []
    try:
        actions = subprocess.Popen(
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "-p", str(actions_port)],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        procs.append(actions)
        wait_up(f"http://127.0.0.1:{actions_port}/health", actions, 120)
        rasa = subprocess.Popen(
            [
                str(BIN / "rasa"),
                "run",
                "--model",
                "models",
                "-p",
                str(rasa_port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        procs.append(rasa)
        wait_up(f"http://127.0.0.1:{rasa_port}/", rasa, 300)
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        run_users(url, queries, 2, 3)  # warm up both servers (first model calls are slow)
        return [
            run_users(url, queries, 1, per_user, conversation_length),
            run_users(url, queries, 8, per_user, conversation_length),
            # The same load with every user's questions in one long conversation: Rasa's cost
            # per message grows with the session's length (tracker load and featurisation).
            run_users(url, queries, 1, per_user, 0),
            run_users(url, queries, 8, per_user, 0),
        ]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-user", type=int, default=25, help="FAQ questions per virtual user (default 25)"
    )
    parser.add_argument(
        "--conversation-length",
        type=int,
        default=5,
        help="questions per conversation before the user starts a new one (default 5)",
    )
    parser.add_argument("--skip-rest", action="store_true", help="only the in-process benchmark")
    parser.add_argument(
        "--kb-sizes",
        type=int,
        nargs="*",
        default=[1000, 100_000],
        help="synthetic knowledge-base sizes to time (none: skip)",
    )
    parser.add_argument(
        "--url",
        help="REST webhook of an assistant already running (e.g. `make run-cluster`'s): only "
        "the round-trip loads, against it",
    )
    parser.add_argument(
        "--users", type=int, nargs="+", default=[1, 8], help="concurrent users with --url"
    )
    args = parser.parse_args()
    queries = load_queries(200)
    if args.url:
        run_users(args.url, queries, 2, 3)  # warm up (first model calls are slow)
        for users in args.users:
            row = run_users(args.url, queries, users, args.per_user, args.conversation_length)
            print(
                f"REST round trip at {args.url}, {users} user(s): {row['requests']} requests, "
                f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
                f"{row['throughput_rps']} req/s, errors {row['errors']}"
            )
        return 0
    results: dict = {"kb_in_process": bench_in_process(queries, repeat=3)}
    kb = results["kb_in_process"]
    print(
        f"KB query in process: {kb['queries']} queries, p50 {kb['p50_ms']} ms, "
        f"p95 {kb['p95_ms']} ms (index load {kb['load_s']} s)"
    )
    if args.kb_sizes:
        from scripts.kb_bench import run as kb_scale

        results["kb_scale"] = kb_scale(args.kb_sizes)
    if not args.skip_rest:
        results["rest"] = bench_rest(queries, args.per_user, args.conversation_length)
        for row in results["rest"]:
            print(
                f"REST round trip, {row['users']} user(s), "
                f"{row['conversation_length']} questions per conversation: "
                f"{row['requests']} requests, "
                f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
                f"{row['throughput_rps']} req/s, errors {row['errors']}"
            )
            for sample in row["error_samples"]:
                print(f"  error: {sample}")
        one, eight = results["rest"][:2]
        verdict = {
            "p50_1_user_le_100ms": one["p50_ms"] <= 100,
            "p95_8_users_le_300ms": eight["p95_ms"] <= 300,
            "zero_errors": one["errors"] == 0 and eight["errors"] == 0,
        }
        results["targets"] = verdict
        print(
            "targets: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in verdict.items())
        )
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
