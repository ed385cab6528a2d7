"""The chaos test of the cluster (`make test-chaos`): citizens write, processes die, and the
test counts what was lost and what was doubled.

    .venv/bin/python -m tests.chaos.run --duration 600 --conversations 50   # the full run
    .venv/bin/python -m tests.chaos.run --duration 150 --conversations 20   # CI's short run

`make run-cluster` is started for real (scripts/run.py --cluster: nginx in front of two Rasa
servers, two action servers and two desks, two sweepers, PostgreSQL and Redis), on free ports,
fresh databases and a Redis key prefix of its own, with the WhatsApp channel pointed at a fake
Graph API. Its supervisor restarts what dies, as in production.

Citizens, each a thread going through conversation after conversation until the time is up:

* `faq` (REST): a FAQ question, "ya" to "Apakah jawaban ini sesuai?", a rating of 5;
* `ticket` (REST): the ticket form to the end; the id the citizen is told must be the one
  ticket stored for them;
* `lookup` (REST): an SP2D lookup against the backend simulator;
* `wa-faq` (signed WhatsApp deliveries): the FAQ and rating flow, every delivery sent twice
  (Meta re-delivers), answers read from the fake Graph API;
* `wa-handoff` (WhatsApp): a request for an officer; two agents logged into the desk (through
  nginx, over HTTP, as a browser does) send three numbered replies and resolve it; the citizen
  rates the officer.

Meanwhile the test `kill -9`s, one after the other, spread over the duration: Rasa server 1,
action server 1, the desk process that leads the desk worker, sweeper 1, Rasa server 2,
action server 2.

What a citizen does when something is lost: a REST request that fails (no answer, a 5xx from
nginx) or answers with the technical-problem apology is sent again, as an integrator's client
does; a WhatsApp delivery the webhook does not acknowledge is delivered again with the same id
(as Meta does); a WhatsApp step not answered within `--step-timeout` is written again as a new
message. Counted:

* **lost**: a WhatsApp step never answered in time (the citizen had to write again); a REST
  turn answered 200 with a wrong or empty reply; a ticket told but not stored;
* **doubled records**: a second ticket for one form, a second rating row for one rating, a
  second handoff for one request;
* **doubled answers**: an answer sent twice for one message (WhatsApp: more copies of an answer
  than steps that asked for it);
* **out of order**: an agent's replies reaching the citizen in another order than sent (each
  reply the desk accepted must arrive once: a missing one is lost, a second copy doubled);
* **wrong**: a reply that is not the right one for its step (counted in lost above);
* **resent**: REST requests that failed during a kill and were sent again (expected, not a
  loss: the caller was never acknowledged).

The run prints one table and exits 1 when anything was lost, a record doubled or replies out of
order, or when more answers were doubled than `--doubled-answers-per-kill` for each killed
process that sends replies (a Rasa server, or the agent desk whose worker relays agents'
replies). A turn handled again after a kill skips the replies the reply ledger recorded
(`connectors.common.replies`); a kill between a reply going out and its record is the one
window left for a second copy (the WhatsApp platform offers no idempotency key).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python tests/chaos/run.py`
    sys.path.insert(0, str(ROOT))

from scripts import engines  # noqa: E402
from scripts.cluster_plan import CLUSTER_PORT_OFFSET  # noqa: E402
from tests.support.fake_whatsapp import FakeGraph, deliver, whatsapp_env  # noqa: E402
from tests.support.handoff_play import ALWAYS_OPEN  # noqa: E402
from tests.support.makerun import MODEL, READY, Output, up_pids  # noqa: E402
from tests.support.postgres import drop_database, run_autocommit  # noqa: E402
from tests.support.ticket_form import TICKET_ID, answer_for  # noqa: E402

FAQ_QUESTION = "apa itu sp2d?"
FAQ_ANSWER = "Surat Perintah Pencairan Dana"
ASK_RIGHT = "Apakah jawaban ini sesuai?"
ASK_RATING = "Seberapa puas Anda dengan jawaban kami?"
RATING_INVALID = "bukan nilai yang kami kenali"
THANKS = "Masukan Anda membantu kami"
QUEUED = "antrean"
ASK_AGENT_RATING = "Seberapa puas Anda dengan layanan petugas kami?"
THANKS_AGENT = "terhadap layanan petugas kami"
AGENT_MARK = "[balasan petugas "
#: Replies an agent sends in each handoff, numbered; the citizen must get each once, in order.
AGENT_REPLIES = 3
AGENT_REPLY = re.compile(re.escape(AGENT_MARK) + r"(\d+)\.(\d+)\]")
TECHNICAL_PROBLEM = "gangguan teknis"
#: SP2D lookups: each citizen checks an SP2D of their own (a lookup per identifier is limited
#: to a few an hour, as in production), from fixtures made for the run.
LOOKUP_FOUND = "Berikut informasi SP2D nomor {number}"
LOOKUP_FIXTURES = 5000
#: Never the right answer to any step here.
WRONG = ("belum memahami", "Saya asisten virtual", "pilih layanan")
#: Whom to kill, in order (labels of the supervisor's "is up" lines; "desk leader" is found).
VICTIMS = [
    "rasa server 1",
    "action server 1",
    "desk leader",
    "idle sweeper 1",
    "rasa server 2",
    "action server 2",
]
#: Conversation kinds, in the order threads are given them.
KINDS = ("faq", "wa-faq", "ticket", "lookup", "wa-handoff")
START_TIMEOUT = 900
AGENT_PASSWORD = "rahasia-petugas-123"


# --------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """What the citizens and the agents saw, shared by the threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    #: WhatsApp: (phone, needle) -> steps that asked for that answer.
    expected: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: REST ticket senders -> the ticket id told.
    told: dict[str, str] = field(default_factory=dict)
    #: Senders whose rating was given once (the bot thanked).
    rated: Counter[str] = field(default_factory=Counter)
    #: Handoff id -> how many numbered replies the desk accepted from the agents.
    agent_sent: Counter[int] = field(default_factory=Counter)

    def add(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def problem(self, kind: str, what: str) -> None:
        with self.lock:
            self.counts[f"{kind}:{kind_loss(what)}"] += 1
            if len(self.problems) < 60:
                self.problems.append(f"[{kind}] {what}")

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)


def kind_loss(what: str) -> str:
    if what.startswith("doubled answer"):
        return "doubled-answers"
    if what.startswith("out of order"):
        return "out-of-order"
    return "doubled-records" if what.startswith("doubled record") else "lost"


# --------------------------------------------------------------------------- the cluster


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports() -> list[int]:
    """Public ports for Rasa, the action servers, the desk, the backend and the sweepers whose
    cluster ports (`CLUSTER_PORT_OFFSET` + 1 and + 2 above; the backend has none) are free too,
    below the range the kernel hands out to outgoing connections (a port taken by one would
    make a server fail to start)."""
    for _ in range(200):
        base = random.randrange(20000, 29000, 40)
        ports = [base, base + 10, base + 20, base + 30, base + 35]
        behind = [p for i, p in enumerate(ports) if i != 3]
        wanted = [*ports] + [p + CLUSTER_PORT_OFFSET + n for p in behind for n in (1, 2)]
        if all(_port_free(port) for port in wanted):
            return ports
    raise RuntimeError("no free ports for the cluster")


class Cluster:
    """`scripts/run.py --cluster` in its own process group, on free ports and fresh databases."""

    def __init__(self, workdir: Path, graph: FakeGraph) -> None:
        self.workdir = workdir
        self.databases: list[str] = []
        engines.start_postgres()
        engines.start_redis()
        self.urls = engines.urls()
        stem = f"chaos_{secrets.token_hex(4)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "RASA_"))}
        for variable, suffix in (
            ("HELPDESK_DATABASE_URL", "store"),
            ("RASA_TRACKER_STORE_URL", "tracker"),
        ):
            name = f"{stem}_{suffix}"
            run_autocommit(self.urls.postgres, f"CREATE DATABASE {name}")
            self.databases.append(name)
            env[variable] = (
                make_url(self.urls.postgres)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        ports = _cluster_ports()
        self.rasa_port, self.desk_port = ports[0], ports[2]
        env.update(
            HELPDESK_VAR_DIR=str(workdir / "var"),
            HELPDESK_REDIS_URL=self.urls.redis,
            HELPDESK_REDIS_KEY_PREFIX=stem.replace("_", ""),
            RASA_PORT=str(self.rasa_port),
            RASA_ACTIONS_PORT=str(ports[1]),
            HELPDESK_DESK_PORT=str(self.desk_port),
            HELPDESK_BACKEND_PORT=str(ports[3]),
            HELPDESK_SWEEPER_PORT=str(ports[4]),
            RASA_API_TOKEN=secrets.token_urlsafe(24),
            HELPDESK_OFFICE_HOURS_FILE=str(ALWAYS_OPEN),
            HELPDESK_HANDOFF_TIMEOUT_MINUTES="60",
            HELPDESK_SAKTI_CHANNELS="whatsapp",
            HELPDESK_KB_INDEX=str(ROOT / "var" / "kb_index"),
            PYTHONUNBUFFERED="1",
            **whatsapp_env(graph),
        )
        env.pop("HELPDESK_REST_TOKEN", None)
        env["HELPDESK_BACKEND_FIXTURES"] = str(self._fixtures(workdir))
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.output: Output | None = None

    def _fixtures(self, workdir: Path) -> Path:
        """The simulator's fixtures plus `LOOKUP_FIXTURES` SP2Ds, one for each lookup."""
        data = json.loads((ROOT / "helpdesk" / "backends" / "fixtures.json").read_text())
        self.sp2ds: list[tuple[str, str]] = []
        for n in range(LOOKUP_FIXTURES):
            number, account = f"2699{n:011d}", f"77{n:08d}"
            self.sp2ds.append((number, account))
            data["sp2d"].append(
                {
                    "number": number,
                    "account_number": account,
                    "satker_code": "415011",
                    "satker_name": "KPPN Jakarta II",
                    "spm_number": f"{n:05d}T/415011/2026",
                    "amount": 1000000 + n,
                    "date": "2026-03-02",
                    "status": "Sudah dicairkan",
                }
            )
        self._next_sp2d = iter(self.sp2ds)
        self._sp2d_lock = threading.Lock()
        path = workdir / "fixtures.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    def next_sp2d(self) -> tuple[str, str]:
        """An SP2D (number, account) no citizen has looked up yet in this run."""
        with self._sp2d_lock:
            return next(self._next_sp2d)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.desk_port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py"), "--cluster"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.output = Output(self.proc)
        self.output.wait_for(READY, self.proc, START_TIMEOUT)

    @property
    def text(self) -> str:
        return self.output.text if self.output else ""

    def pids(self) -> dict[str, int]:
        return up_pids(self.text)

    def desk_leader(self) -> str:
        """The label of the desk process leading the worker now ("agent desk N")."""
        leads = re.findall(
            r"^desk-(\d+)\s*\|.*leader desk-worker: this process leads", self.text, re.M
        )
        return f"agent desk {leads[-1]}" if leads else "agent desk 1"

    def kill(self, label: str, timeout: float = 400) -> tuple[str, float]:
        """SIGKILL the process `label`; returns its label and the seconds until it was up again."""
        if label == "desk leader":
            label = self.desk_leader()
        pid = self.pids()[label]
        restarts = self.text.count(f"{label} is up again")
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        while self.text.count(f"{label} is up again") <= restarts:
            if time.monotonic() - killed > timeout:
                raise RuntimeError(f"{label} did not come back in {timeout} s")
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("make run-cluster ended:\n" + self.text[-3000:])
            time.sleep(0.5)
        return label, time.monotonic() - killed

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        for name in self.databases:
            try:
                drop_database(self.urls.postgres, name)
            except Exception as exc:  # noqa: BLE001 - reported, the run's result stands
                print(f"could not drop database {name}: {exc}", file=sys.stderr)

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["HELPDESK_DATABASE_URL"], future=True)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(statement)).all()]
        finally:
            engine.dispose()


# --------------------------------------------------------------------------- citizens


class Citizen(threading.Thread):
    """Goes through conversations of one kind until `stop` is set."""

    def __init__(
        self,
        kind: str,
        number: int,
        cluster: Cluster,
        graph: FakeGraph,
        tally: Tally,
        stop: threading.Event,
        step_timeout: float,
        think_seconds: float,
    ) -> None:
        super().__init__(daemon=True, name=f"{kind}-{number}")
        self.kind, self.number = kind, number
        self.cluster, self.graph, self.tally = cluster, graph, tally
        self.stop_event = stop
        self.step_timeout = step_timeout
        self.think_seconds = think_seconds
        self.http = requests.Session()

    def run(self) -> None:
        play: Callable[[], None] = {
            "faq": self.faq,
            "ticket": self.ticket,
            "lookup": self.lookup,
            "wa-faq": self.wa_faq,
            "wa-handoff": self.wa_handoff,
        }[self.kind]
        while not self.stop_event.is_set():
            try:
                play()
                self.tally.add(f"{self.kind}:conversations")
            except _Stopped:
                return
            except Exception as exc:  # noqa: BLE001 - a citizen never dies silently
                self.tally.problem(self.kind, f"crashed: {type(exc).__name__}: {exc}")
                time.sleep(1)

    # -- REST ---------------------------------------------------------------------------------
    def think(self) -> None:
        """A citizen reads and types before each message."""
        if self.stop_event.wait(random.uniform(0.5, 1.5) * self.think_seconds):
            raise _Stopped

    def rest(self, sender: str, text: str) -> list[str]:
        """The reply texts; a failed request or the technical-problem apology is sent again."""
        self.think()
        deadline = time.monotonic() + 600
        while True:
            if self.stop_event.is_set():
                raise _Stopped
            started = time.monotonic()
            try:
                response = self.http.post(
                    self.cluster.rest_url, json={"sender": sender, "message": text}, timeout=150
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code == 200:
                texts = [m.get("text") or "" for m in response.json()]
                self.tally.latency(time.monotonic() - started)
                self.tally.add(f"{self.kind}:messages")
                if not any(TECHNICAL_PROBLEM in t for t in texts):
                    return texts
                self.tally.add(f"{self.kind}:apologised")
            elif response is not None and response.status_code < 500:
                raise AssertionError(f"HTTP {response.status_code}: {response.text[:200]}")
            self.tally.add(f"{self.kind}:resent")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not answered in 600 s")
            time.sleep(0.5)

    def expect(self, sender: str, text: str, needles: tuple[str, ...]) -> str | None:
        """Send `text`; the needle found in the reply, or None (a wrong reply, counted)."""
        joined = " ".join(self.rest(sender, text))
        found = next((n for n in needles if n in joined), None)
        if found is None or any(w in joined for w in WRONG):
            self.tally.problem(self.kind, f"{sender} {text!r} got: {joined[:200]}")
            return None
        return found

    def faq(self) -> None:
        sender = f"faq-{uuid.uuid4().hex[:10]}"
        if self.expect(sender, FAQ_QUESTION, (ASK_RIGHT,)) is None:
            return
        # A "ya" whose reply was lost may be handled twice: the second meets the rating question.
        if self.expect(sender, "ya", (ASK_RATING, RATING_INVALID)) is None:
            return
        if self.expect(sender, "5", (THANKS,)) is not None:
            with self.tally.lock:
                self.tally.rated[sender] += 1

    def lookup(self) -> None:
        sender = f"cek-{uuid.uuid4().hex[:10]}"
        number, account = self.cluster.next_sp2d()
        self.expect(
            sender, f"cek sp2d {number} rek {account}", (LOOKUP_FOUND.format(number=number),)
        )

    def ticket(self) -> None:
        sender = f"tiket-{uuid.uuid4().hex[:10]}"
        texts = self.rest(sender, "saya mau buat tiket")
        for _ in range(12):
            joined = " ".join(texts)
            told = TICKET_ID.search(joined)
            if told:
                with self.tally.lock:
                    if sender in self.tally.told:
                        self.tally.problem(
                            self.kind, f"doubled record: {sender} told a second ticket id"
                        )
                    self.tally.told[sender] = told.group(1)
                return
            answer = answer_for(joined)
            if answer is None:
                self.tally.problem(self.kind, f"{sender}: the form said {joined[:200]}")
                return
            texts = self.rest(sender, answer)
        self.tally.problem(self.kind, f"{sender}: the ticket form never ended")

    # -- WhatsApp -----------------------------------------------------------------------------
    def deliver(self, phone: str, text: str) -> None:
        """One signed delivery, delivered again until acknowledged, then once more (Meta)."""
        self.think()
        message_id = f"wamid.chaos{uuid.uuid4().hex}"
        deadline = time.monotonic() + 600
        while True:
            if self.stop_event.is_set():
                raise _Stopped
            try:
                status = deliver(self.cluster, phone, "Warga Uji", text, message_id).status_code
            except requests.RequestException:
                status = 0
            if status == 200:
                break
            self.tally.add(f"{self.kind}:redelivered")
            if time.monotonic() > deadline:
                raise AssertionError(f"delivery of {text!r} never acknowledged")
            time.sleep(1)
        self.tally.add(f"{self.kind}:messages")
        try:  # Meta's re-delivery of the same message: must not be answered again
            deliver(self.cluster, phone, "Warga Uji", text, message_id)
            self.tally.add(f"{self.kind}:redelivered")
        except requests.RequestException:
            pass

    def seen(self, phone: str, needle: str) -> int:
        return sum(needle in t for t in self.graph.texts_to(phone))

    def step(self, phone: str, text: str, needle: str, *, others: tuple[str, ...] = ()) -> bool:
        """Write `text` until `needle` (or one of `others`) comes back; a try not answered in
        `step_timeout` is a lost message (the citizen writes again)."""
        with self.tally.lock:
            self.tally.expected[(phone, needle)] += 1
        before = {n: self.seen(phone, n) for n in (needle, *others)}
        for _ in range(3):
            started = time.monotonic()
            self.deliver(phone, text)
            while time.monotonic() - started < self.step_timeout:
                if self.stop_event.is_set():
                    raise _Stopped
                if self.seen(phone, needle) > before[needle]:
                    self.tally.latency(time.monotonic() - started)
                    return True
                if any(self.seen(phone, n) > before[n] for n in others):
                    self.tally.latency(time.monotonic() - started)
                    return True
                time.sleep(0.2)
            self.tally.problem(
                self.kind, f"{phone} {text!r}: no {needle!r} in {self.step_timeout:.0f} s"
            )
        return False

    def wa_faq(self) -> None:
        phone = f"62899{random.randrange(10**7, 10**8)}"
        if not self.step(phone, FAQ_QUESTION, FAQ_ANSWER):
            return
        if not self.step(phone, "ya", ASK_RATING, others=(RATING_INVALID,)):
            return
        self.step(phone, "5", THANKS)

    def wa_handoff(self) -> None:
        phone = f"62877{random.randrange(10**7, 10**8)}"
        if not self.step(phone, "saya mau bicara dengan petugas", QUEUED):
            return
        with self.tally.lock:
            self.tally.expected[(phone, AGENT_MARK)] += 1
            self.tally.expected[(phone, ASK_AGENT_RATING)] += 1
        if not self.wait_seen(phone, AGENT_MARK) or not self.wait_seen(phone, ASK_AGENT_RATING):
            return
        self.step(phone, "5", THANKS_AGENT)

    def wait_seen(self, phone: str, needle: str, timeout: float = 300) -> bool:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.stop_event.is_set():
                raise _Stopped
            if self.seen(phone, needle):
                return True
            time.sleep(0.3)
        self.tally.problem(self.kind, f"{phone}: no {needle!r} from the desk in {timeout:.0f} s")
        return False


class _Stopped(Exception):
    """The run is over: the citizen leaves mid-conversation (not counted)."""


# --------------------------------------------------------------------------- agents


class Agent(threading.Thread):
    """An agent in the desk through nginx: online, answers and resolves what it is given."""

    def __init__(
        self, username: str, cluster: Cluster, tally: Tally, stop: threading.Event
    ) -> None:
        super().__init__(daemon=True, name=username)
        self.username, self.cluster, self.tally, self.stop_event = username, cluster, tally, stop
        self.http = requests.Session()
        self.csrf = ""
        self.replied: Counter[int] = Counter()  # handoff id -> numbered replies sent
        self.resolved: set[int] = set()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            response = self.http.request(method, self.cluster.desk_url + path, timeout=30, **kwargs)
        except requests.RequestException:
            return None
        if response.status_code >= 500:
            return None
        return response

    def login(self) -> bool:
        page = self.call("GET", "/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) if page else None
        if not match:
            return False
        form = {"username": self.username, "password": AGENT_PASSWORD, "csrf_token": match.group(1)}
        done = self.call("POST", "/login", data=form, allow_redirects=False)
        if done is None or done.status_code != 303:
            return False
        home = self.call("GET", "/")
        match = re.search(r'name="csrf_token" value="([^"]+)"', home.text) if home else None
        if not match:
            return False
        self.csrf = match.group(1)
        online = self.call(
            "POST",
            "/agents/me/status",
            data={"online": "1", "csrf_token": self.csrf},
            headers={"Accept": "application/json"},
        )
        return online is not None and online.status_code == 200

    def run(self) -> None:
        while not self.stop_event.is_set() and not self.login():
            time.sleep(1)
        while not self.stop_event.is_set():
            state = self.call("GET", "/api/queue", headers={"Accept": "application/json"})
            if (
                state is None
                or state.status_code != 200
                or "json" not in state.headers.get("Content-Type", "")
            ):
                if state is not None and state.status_code in (401, 403, 303):
                    self.login()
                time.sleep(0.5)
                continue
            queue = state.json()
            for entry in queue.get("mine", []):
                self.serve(int(entry["id"]))
            for entry in queue.get("waiting", [])[:1]:  # the worker assigns too; either wins
                self.call(
                    "POST",
                    f"/conversations/{entry['id']}/take",
                    data={"csrf_token": self.csrf},
                    allow_redirects=False,
                )
            time.sleep(0.5)

    def serve(self, handoff_id: int) -> None:
        json_headers = {"Accept": "application/json"}
        while self.replied[handoff_id] < AGENT_REPLIES:
            number = self.replied[handoff_id] + 1
            text = f"Baik, kami bantu periksa ({number}). {AGENT_MARK}{handoff_id}.{number}]"
            done = self.call(
                "POST",
                f"/conversations/{handoff_id}/reply",
                data={"text": text, "csrf_token": self.csrf},
                headers=json_headers,
            )
            if done is None or done.status_code != 200:
                return  # the desk is down or restarting: next pass
            self.replied[handoff_id] = number
            with self.tally.lock:
                self.tally.agent_sent[handoff_id] = number
            self.tally.add("agent:replies")
        if handoff_id not in self.resolved:
            done = self.call(
                "POST",
                f"/conversations/{handoff_id}/resolve",
                data={"csrf_token": self.csrf},
                allow_redirects=False,
            )
            if done is not None and done.status_code in (200, 303):
                self.resolved.add(handoff_id)
                self.tally.add("agent:resolved")


def create_agents(cluster: Cluster, count: int) -> list[str]:
    from helpdesk.desk.passwords import hash_password
    from helpdesk.services import Services
    from helpdesk.settings import Settings
    from helpdesk.storage.desk_users import DeskUserRepository

    services = Services(Settings.from_env(cluster.env))
    try:
        users = DeskUserRepository(services.session_factory)
        names = []
        for number in range(1, count + 1):
            name = f"petugas{number}"
            users.create(
                name,
                f"Petugas {number}",
                hash_password(AGENT_PASSWORD),
                role="agent",
                max_conversations=50,
            )
            names.append(name)
        return names
    finally:
        services.session_factory.kw["bind"].dispose()


# --------------------------------------------------------------------------- the checks


def check_store(cluster: Cluster, tally: Tally) -> None:
    """Against the helpdesk database: each ticket told stored once, each rating once."""
    tickets: dict[str, list[str]] = defaultdict(list)
    for sender, ticket_id in cluster.sql("SELECT sender_id, id FROM ticket"):
        tickets[sender].append(ticket_id)
    for sender, ticket_id in tally.told.items():
        if ticket_id not in tickets.get(sender, []):
            tally.problem("ticket", f"{sender} was told {ticket_id}, which is not stored")
    for sender, ids in tickets.items():
        if len(ids) > 1:
            tally.problem("ticket", f"doubled record: {sender} has tickets {ids}")
    handoffs = Counter(s for (s,) in cluster.sql("SELECT sender_id FROM handoff"))
    for phone, count in handoffs.items():
        asked = tally.expected.get((phone, QUEUED), 0)
        if count > asked:
            tally.problem("wa-handoff", f"doubled record: {phone} has {count} handoffs for {asked}")
    ratings = Counter(s for (s,) in cluster.sql("SELECT sender_id FROM csat_rating"))
    for sender, given in tally.rated.items():
        if ratings.get(sender, 0) > given:
            tally.problem(
                "faq", f"doubled record: {sender} has {ratings[sender]} ratings for {given}"
            )


def check_whatsapp(graph: FakeGraph, tally: Tally) -> None:
    """More copies of an answer than steps that asked for it: doubled answers. Agent replies:
    each one the desk accepted reaches the citizen once, in the agent's order."""
    # Handoff id -> reply numbers, in order, from every phone: an agent also answers a
    # request whose citizen stopped (the run ended) before seeing it queued.
    received: dict[int, list[int]] = defaultdict(list)
    for phone in graph.recipients():
        for text in graph.texts_to(phone):
            for handoff_id, number in AGENT_REPLY.findall(text):
                received[int(handoff_id)].append(int(number))
    for (phone, needle), asked in tally.expected.items():
        if needle == AGENT_MARK:
            continue
        sent = sum(needle in t for t in graph.texts_to(phone))
        if sent > asked:
            kind = "wa-handoff" if phone.startswith("62877") else "wa-faq"
            tally.problem(kind, f"doubled answer: {phone} got {needle!r} {sent} times for {asked}")
    for handoff_id, sent in tally.agent_sent.items():
        got = received.get(handoff_id, [])
        for number in range(1, sent + 1):
            if got.count(number) == 0:
                tally.problem("wa-handoff", f"agent reply {number} of handoff {handoff_id} lost")
            elif got.count(number) > 1:
                tally.problem(
                    "wa-handoff",
                    f"doubled answer: agent reply {number} of handoff {handoff_id} "
                    f"{got.count(number)} times",
                )
        if got != sorted(got):
            tally.problem("wa-handoff", f"out of order: handoff {handoff_id} replies came {got}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def report(tally: Tally, kills: list[tuple[str, float, float]], args: argparse.Namespace) -> str:
    lines = [
        f"chaos: {args.conversations} concurrent conversations for {args.duration:.0f} s "
        f"against make run-cluster (2 Rasa, 2 action servers, 2 desks, 2 sweepers, nginx, "
        "PostgreSQL, Redis)",
        "",
        f"{'kind':<11} {'convers.':>8} {'messages':>8} {'resent':>7} {'redeliv.':>8} "
        f"{'lost':>5} {'doubled records':>15} {'doubled answers':>15} {'out of order':>12}",
    ]
    c = tally.counts
    for kind in KINDS:
        lines.append(
            f"{kind:<11} {c[kind + ':conversations']:>8} {c[kind + ':messages']:>8} "
            f"{c[kind + ':resent']:>7} {c[kind + ':redelivered']:>8} "
            f"{c[kind + ':lost']:>5} {c[kind + ':doubled-records']:>15} "
            f"{c[kind + ':doubled-answers']:>15} {c[kind + ':out-of-order']:>12}"
        )
    lost = sum(c[k + ":lost"] for k in KINDS)
    records = sum(c[k + ":doubled-records"] for k in KINDS)
    answers = sum(c[k + ":doubled-answers"] for k in KINDS)
    disorder = sum(c[k + ":out-of-order"] for k in KINDS)
    lines += [
        f"{'total':<11} {sum(c[k + ':conversations'] for k in KINDS):>8} "
        f"{sum(c[k + ':messages'] for k in KINDS):>8} {sum(c[k + ':resent'] for k in KINDS):>7} "
        f"{sum(c[k + ':redelivered'] for k in KINDS):>8} {lost:>5} {records:>15} "
        f"{answers:>15} {disorder:>12}",
        "",
        f"agent replies {c['agent:replies']}, resolved {c['agent:resolved']}; "
        f"turn latency p50 {percentile(tally.latencies, 0.5):.2f} s, "
        f"p95 {percentile(tally.latencies, 0.95):.2f} s, "
        f"max {max(tally.latencies, default=0):.1f} s",
        "kills (at s: process, back up after s): "
        + ", ".join(f"{at:.0f}: {label} ({back:.0f})" for label, at, back in kills),
    ]
    if tally.problems:
        lines += ["", "problems:"] + [f"  {p}" for p in tally.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of traffic")
    parser.add_argument("--conversations", type=int, default=50, help="concurrent citizens")
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--step-timeout", type=float, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds a citizen takes to write"
    )
    parser.add_argument("--report", type=Path, help="also write the table (and JSON) here")
    parser.add_argument("--no-kill", action="store_true", help="traffic only, no kills")
    parser.add_argument("--logs", type=Path, help="keep the cluster's logs in this folder")
    parser.add_argument(
        "--doubled-answers-per-kill",
        type=int,
        default=1,
        help="answers a killed Rasa server may send twice (a kill between a reply going out "
        "and its record in the reply ledger; default 1)",
    )
    args = parser.parse_args(argv)
    if not MODEL.is_file():
        print(f"no trained model at {MODEL}: run `make train`", file=sys.stderr)
        return 2
    random.seed(args.seed)
    graph = FakeGraph()
    tally = Tally()
    kills: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="helpdesk-chaos-") as workdir:
        cluster = Cluster(Path(workdir), graph)
        try:
            print("chaos: starting make run-cluster ...", flush=True)
            cluster.start()
            print("chaos: the cluster is up; citizens start", flush=True)
            stop = threading.Event()
            agents = [Agent(n, cluster, tally, stop) for n in create_agents(cluster, args.agents)]
            citizens = [
                Citizen(
                    KINDS[i % len(KINDS)],
                    i,
                    cluster,
                    graph,
                    tally,
                    stop,
                    args.step_timeout,
                    args.think,
                )
                for i in range(args.conversations)
            ]
            for thread in (*agents, *citizens):
                thread.start()
            started = time.monotonic()
            victims = [] if args.no_kill else VICTIMS
            for n, victim in enumerate(victims, start=1):
                at = started + args.duration * n / (len(victims) + 1)
                time.sleep(max(0.0, at - time.monotonic()))
                at = time.monotonic()  # later than planned when a restart took long
                label, back = cluster.kill(victim)
                kills.append((label, at - started, back))
                print(
                    f"chaos: killed {label} at {at - started:.0f} s, up again after {back:.0f} s",
                    flush=True,
                )
            time.sleep(max(0.0, started + args.duration - time.monotonic()))
            stop.set()
            for thread in citizens:
                thread.join(timeout=60)
            time.sleep(10)  # answers still on their way are counted as duplicates if doubled
            for thread in agents:
                thread.join(timeout=10)
            check_store(cluster, tally)
            check_whatsapp(graph, tally)
        finally:
            cluster.stop()
            if args.logs:
                shutil.copytree(Path(workdir) / "var" / "log", args.logs, dirs_exist_ok=True)
                (args.logs / "console.log").write_text(cluster.text + "\n", encoding="utf-8")
    text = report(tally, kills, args)
    print(text)
    if args.report:
        args.report.write_text(text + "\n\n" + json.dumps(dict(tally.counts), indent=1) + "\n")
    return verdict(tally, kills, args.doubled_answers_per_kill)


#: The processes that send replies to citizens: a kill between a reply going out and its
#: record in the reply ledger may send it again (Rasa servers: the bot's answers; the agent
#: desk: the leader's worker relays agents' replies).
REPLY_SENDERS = ("rasa server", "agent desk")


def verdict(tally: Tally, kills: list[tuple[str, float, float]], per_kill: int) -> int:
    """0 when nothing was lost, no record doubled, and at most `per_kill` answers doubled for
    each killed process that sends replies (`REPLY_SENDERS`: at-least-once delivery of a reply
    in flight); else 1."""
    c = tally.counts
    lost = sum(c[k + ":lost"] for k in KINDS)
    records = sum(c[k + ":doubled-records"] for k in KINDS)
    answers = sum(c[k + ":doubled-answers"] for k in KINDS)
    disorder = sum(c[k + ":out-of-order"] for k in KINDS)
    allowed = per_kill * sum(label.startswith(REPLY_SENDERS) for label, _, _ in kills)
    if answers > allowed:
        print(f"chaos: {answers} answers doubled, more than {allowed} allowed", file=sys.stderr)
    return 1 if lost or records or disorder or answers > allowed else 0


if __name__ == "__main__":
    sys.exit(main())
