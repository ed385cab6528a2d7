"""Benchmarks: prints latency percentiles, throughput and memory (`make bench`).

1. A knowledge-base query in process (retriever.answer), over the evaluation queries; then the
   same on synthetic knowledge bases of 1k and 100k entries (scripts/kb_bench.py: how the index
   is built and searched at each size).
2. The REST round trip of FAQ questions through the whole single-machine stack (the processes
   `make run` starts: backend simulator, action server, Rasa server, idle sweeper, agent desk;
   tests/support/stack.py), once on SQLite and once on PostgreSQL with Rasa's Redis lock store
   (`make engines`), printed side by side as one table with the targets:
   - 1 user asking 50 questions, a new conversation every 25: p50;
   - 8 concurrent users, one 25-question conversation each: p95, messages per second;
   - long conversations: 1 user, 4 conversations of 105 questions; the p50 of the messages
     around the 5th (3-7) and around the 100th (98-102): the cost of a message must not grow
     with the conversation;
   - the resident memory of all the stack's processes after the loads: RSS summed (shared
     pages counted in each process) and PSS (shared pages divided among them).
   Each conversation is opened with a greeting, not measured. Everything runs on loopback
   with throw-away databases. Figures go to results/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


QUERIES = ROOT / "knowledge_base" / "eval" / "queries.jsonl"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def load_queries(limit: int, *, in_scope_only: bool = True) -> list[str]:
    """The evaluation queries: those the knowledge base answers, or all of them (the questions
    it should decline too, as citizens ask both)."""
    lines = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line]
    return [item["query"] for item in lines if item.get("expected_id") or not in_scope_only][:limit]


class QueryPool:
    """Hands each load the next queries of the pool, so a load repeats as few questions of
    the earlier loads as the pool allows (a repeated question is cheaper: the NLU keeps the
    embeddings of recent texts); `take` counts the repeats."""

    def __init__(self, queries: list[str]) -> None:
        self.queries = queries
        self.position = 0

    def take(self, count: int) -> tuple[list[str], int]:
        """The next `count` queries, and how many of them earlier loads already asked."""
        size = len(self.queries)
        taken = [self.queries[(self.position + i) % size] for i in range(count)]
        repeated = max(0, min(count, self.position + count - size))
        self.position += count
        return taken, repeated


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


#: Questions per conversation in the round-trip loads (a citizen's long WhatsApp session).
LENGTH = 25
#: The long-conversation row: conversations of this many questions, the p50 of the messages
#: around the 5th and around the 100th compared.
LONG_LENGTH = 105
LONG_CONVERSATIONS = 4
EARLY, LATE = range(2, 7), range(97, 102)  # 0-based: messages 3-7 and 98-102


def process_tree(pids: list[int]) -> list[int]:
    """`pids` and all their descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _kilobytes(text: str, field: str) -> int:
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith(field)), 0)


def memory_mb(processes: dict[str, int]) -> dict[str, Any]:
    """Resident memory of the processes (and their children): the sum of their RSS (shared
    pages counted in each) and of their PSS (shared pages divided among them), in MB, in all
    and per process."""
    each: dict[str, float] = {}
    rss = pss = 0
    for name, root in processes.items():
        mine = 0
        for pid in process_tree([root]):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            mine += _kilobytes(status, "VmRSS:")
            pss += _kilobytes(rollup, "Pss:")
        rss += mine
        each[name] = round(mine / 1024, 1)
    return {"rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1), "rss_each_mb": each}


def cpu_seconds(processes: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each process and its children have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for name, root in processes.items():
        total = 0
        for pid in process_tree([root]):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        used[name] = total / tick
    return used


def long_conversations(url: str, queries: list[str]) -> dict:
    """One user, `LONG_CONVERSATIONS` conversations of `LONG_LENGTH` questions each: the p50
    latency of the messages around the 5th and around the 100th."""
    by_index: dict[int, list[float]] = {}
    errors = 0
    for n in range(LONG_CONVERSATIONS):
        sender = f"bench-long-{n}-{time.time_ns()}"
        post(url, sender, "halo")
        for i in range(LONG_LENGTH):
            try:
                elapsed, replies = post(url, sender, queries[(n * 7 + i) % len(queries)])
                if not replies:
                    raise RuntimeError("empty reply")
                by_index.setdefault(i, []).append(elapsed)
            except Exception:  # noqa: BLE001 - counted as an error
                errors += 1
    early = [ms for i in EARLY for ms in by_index.get(i, [])]
    late = [ms for i in LATE for ms in by_index.get(i, [])]
    p_early, p_late = percentile(early, 50), percentile(late, 50)
    return {
        "conversations": LONG_CONVERSATIONS,
        "length": LONG_LENGTH,
        "p50_5th_ms": round(p_early, 1),
        "p50_100th_ms": round(p_late, 1),
        "ratio": round(p_late / p_early, 2) if p_early else None,
        "errors": errors,
    }


def eight_users(url: str, queries: list[str], processes: dict[str, int]) -> dict:
    """The 8-user load, with the CPU each process spent per message during it."""
    before = cpu_seconds(processes)
    row = run_users(url, queries, 8, LENGTH, LENGTH)
    after = cpu_seconds(processes)
    done = max(row["requests"], 1)
    row["cpu_ms_per_message"] = {
        name: round((after[name] - before[name]) * 1000 / done, 1) for name in processes
    }
    return row


def bench_stack(queries: list[str], database: str) -> dict:
    """The whole single-machine stack (`make run`'s processes, tests/support/stack.py) on
    `database` (sqlite, or postgres with Redis: `make engines`): the round-trip loads and the
    memory of all its processes."""
    from tests.support.stack import POSTGRES_URL_ENV, STACK_DB_ENV, Stack

    if database == "postgres" and not os.environ.get(POSTGRES_URL_ENV):
        return {"skipped": f"{POSTGRES_URL_ENV} not set (make engines)"}
    previous = os.environ.get(STACK_DB_ENV)
    os.environ[STACK_DB_ENV] = database
    try:
        with Stack(rasa=True, desk=True, sweeper=True) as stack:
            url = stack.rest_url
            pool = QueryPool(load_queries(10_000, in_scope_only=False))
            run_users(url, pool.take(6)[0], 2, 3)  # warm up both servers (first calls are slow)
            processes = {name: proc.pid for name, proc in stack.procs}
            one_user, one_repeated = pool.take(2 * LENGTH)
            eight, eight_repeated = pool.take(8 * LENGTH)
            result = {
                "one_user": run_users(url, one_user, 1, 2 * LENGTH, LENGTH),
                "eight_users": eight_users(url, eight, processes),
                "long": long_conversations(url, queries),
            }
            result["one_user"]["repeated_queries"] = one_repeated
            result["eight_users"]["repeated_queries"] = eight_repeated
            result["memory"] = memory_mb(processes)
            return result
    finally:
        if previous is None:
            os.environ.pop(STACK_DB_ENV, None)
        else:
            os.environ[STACK_DB_ENV] = previous


#: (label, how to read it from a bench_stack result, target text, whether it is met)
ROWS: list[tuple[str, Any, str, Any]] = [
    ("1 user, p50 ms", lambda r: r["one_user"]["p50_ms"], "<= 40", lambda v: v <= 40),
    ("8 users, p95 ms", lambda r: r["eight_users"]["p95_ms"], "<= 200", lambda v: v <= 200),
    (
        "8 users, messages/s",
        lambda r: r["eight_users"]["throughput_rps"],
        ">= 50",
        lambda v: v >= 50,
    ),
    (
        "errors (all loads)",
        lambda r: r["one_user"]["errors"] + r["eight_users"]["errors"] + r["long"]["errors"],
        "0",
        lambda v: v == 0,
    ),
    ("long: p50 ms, 5th message", lambda r: r["long"]["p50_5th_ms"], "", None),
    ("long: p50 ms, 100th message", lambda r: r["long"]["p50_100th_ms"], "", None),
    ("long: 100th / 5th", lambda r: r["long"]["ratio"], "<= 1.2", lambda v: v <= 1.2),
    (
        "stack RSS MB, all processes",
        lambda r: r["memory"]["rss_mb"],
        "<= 1536",
        lambda v: v <= 1536,
    ),
    ("stack PSS MB, all processes", lambda r: r["memory"]["pss_mb"], "", None),
]


def table(results: dict[str, dict]) -> str:
    """The round-trip figures of each database side by side, with the targets."""
    columns = list(results)
    lines = [f"{'':32}" + "".join(f"{c:>12}" for c in columns) + f"{'target':>10}"]
    for label, read, target, met in ROWS:
        cells = []
        for column in columns:
            result = results[column]
            if "skipped" in result:
                cells.append(f"{'-':>12}")
                continue
            value = read(result)
            mark = "" if met is None else (" ok" if met(value) else " !!")
            cells.append(f"{value:>9}{mark:3}")
        lines.append(f"{label:32}" + "".join(cells) + f"{target:>10}")
    for column in columns:
        if "skipped" in results[column]:
            lines.append(f"{column}: skipped, {results[column]['skipped']}")
        else:
            each = results[column]["memory"]["rss_each_mb"]
            lines.append(
                f"{column} RSS MB per process: " + ", ".join(f"{n} {v}" for n, v in each.items())
            )
            eight = results[column]["eight_users"]
            lines.append(
                f"{column} 8 users: {eight['requests']} questions, {eight['repeated_queries']} "
                "of them asked in an earlier load"
            )
            cpu = eight["cpu_ms_per_message"]
            lines.append(
                f"{column} CPU ms per message, 8 users: "
                + ", ".join(f"{n} {v}" for n, v in cpu.items())
                + f" (all {round(sum(cpu.values()), 1)}; 2 cores)"
            )
    lines.append("ok: target met, !!: missed")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-user", type=int, default=25, help="with --url: FAQ questions per virtual user"
    )
    parser.add_argument(
        "--conversation-length",
        type=int,
        default=LENGTH,
        help="with --url: questions per conversation before the user starts a new one",
    )
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["sqlite", "postgres"],
        default=["sqlite", "postgres"],
        help="stacks to run the round-trip loads on (postgres: `make engines` first)",
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
        results["stacks"] = {}
        for database in args.databases:
            print(f"round trips on {database}: starting the stack ...", flush=True)
            results["stacks"][database] = bench_stack(queries, database)
            for load in ("one_user", "eight_users"):
                for sample in results["stacks"][database].get(load, {}).get("error_samples", []):
                    print(f"  {database} error: {sample}")
        print(
            f"\nREST round trips of FAQ questions, whole stack, conversations of "
            f"{LENGTH} questions (1 user: 2 in a row; 8 users: 1 each); long: "
            f"{LONG_CONVERSATIONS} conversations of {LONG_LENGTH}, p50 of messages 3-7 and "
            f"98-102\n" + table(results["stacks"])
        )
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
