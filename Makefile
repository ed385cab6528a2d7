# Helpdesk assistant - every command the README shows is a target here. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(VENV)/bin/rasa
HELPDESK  := $(VENV)/bin/helpdesk
STAMP     := $(VENV)/.installed
ST_VENV   := .venv-st
ST_PY     := $(ST_VENV)/bin/python
ST_STAMP  := $(ST_VENV)/.installed
MODEL_STAMP := models/.trained
# `make run PROFILE=krs`: the organisation's profile (profiles/<name>/) for this run.
ifdef PROFILE
export HELPDESK_PROFILE := $(PROFILE)
endif
TRAIN_INPUTS := config.yml $(wildcard domain/*.yml) $(shell find data -name '*.yml' 2>/dev/null) $(wildcard components/*.py)

.PHONY: help venv st test-st run run-cluster systemd train index engines engines-down test-postgres test-chaos test test-unit test-stories test-conversations test-live test-browser browser-deps compose compose-deps mail-deps mail-down validate eval bench lint format clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || $$(scripts/find_python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3" wheel
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP) ## Build .venv (Python 3.10) from the pinned requirements

# The optional sentence-transformers backend (torch: ~4.8 GB) lives in its own environment,
# .venv-st, layered over .venv (a .pth file adds .venv's packages), so .venv stays what
# `make run` and `make test` use and the large install is paid only by `make st`/`make test-st`.
$(ST_STAMP): $(STAMP) requirements-st.txt
	@test -x $(ST_PY) || $$(scripts/find_python.sh) -m venv $(ST_VENV)
	$(ST_PY) -c 'import site, sys; open(site.getsitepackages()[0] + "/helpdesk_main_venv.pth", "w").write("import site; site.addsitedir(" + repr(sys.argv[1]) + ")\n")' "$(abspath $(VENV))/lib/python3.10/site-packages"
	$(ST_PY) -m pip install --quiet --upgrade "pip==26.3"
	$(ST_PY) -m pip install --quiet -r requirements-st.txt -c constraints.txt
	@touch $@

st: $(ST_STAMP) ## Build .venv-st: .venv plus the optional sentence-transformers backend (pulls torch, ~4.8 GB)

test-st: $(ST_STAMP) ## The embedder tests with sentence-transformers, in .venv-st (CI runs it after `make test` when time allows)
	$(ST_PY) -m pytest -q tests/unit/knowledge

$(MODEL_STAMP): $(STAMP) $(TRAIN_INPUTS)
	$(RASA) train --config config.yml --domain domain --data data --out models --fixed-model-name helpdesk
	@touch $@

train: $(MODEL_STAMP) ## Train the Rasa model if the training data or config changed

index: $(STAMP) ## Build the FAQ index if the sources changed
	$(HELPDESK) kb build

run: $(MODEL_STAMP) index ## Start the whole assistant (backend simulator, actions, Rasa); Ctrl-C stops it
	$(PY) scripts/run.py

run-cluster: $(MODEL_STAMP) index ## The assistant as a cluster: nginx in front of 2 Rasa, 2 action servers, 2 desks, 2 sweepers, on PostgreSQL and Redis (installs Debian's packages when root and missing)
	$(PY) scripts/run.py --cluster

systemd: $(STAMP) ## Write systemd units (and their 0600 environment file) for make run-cluster's processes into var/systemd
	$(PY) scripts/cluster_plan.py systemd var/systemd

compose: $(STAMP) ## Regenerate deploy/ (compose.yml, nginx.conf and what they mount) from make run-cluster's plan
	$(PY) scripts/cluster_plan.py compose deploy

validate: $(STAMP) ## rasa data validate
	$(RASA) data validate --config config.yml --domain domain --data data --fail-on-warnings

test-unit: $(STAMP) compose-deps mail-deps ## Unit, action and connector tests (pytest; the e-mail channel's against the local dovecot)
	$(PY) -m pytest -q -m "not browser and not live"

test-stories: $(MODEL_STAMP) ## Test stories against the trained model and a live action server
	$(PY) scripts/test_stories.py

test-conversations: $(MODEL_STAMP) ## Held-out REST conversations against the simulator (tests/conversations)
	$(PY) scripts/test_conversations.py $(ARGS)

test-live: $(MODEL_STAMP) mail-deps ## Tests against a live stack: idle sweeper end to end (pytest -m live)
	$(PY) -m pytest -q -m live

#: A Compose client checks deploy/compose.yml offline (`config`, tests/unit/test_compose_plan.py):
#: `docker compose` where the plugin is, else Debian's docker-compose.
compose-deps: ## A Compose client to check deploy/compose.yml (Debian's docker-compose, installed when root)
	@if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose; \
	  else \
	    echo "note: no Compose client, deploy/compose.yml is not checked; as root run: apt-get install -y docker-compose" >&2; \
	  fi; \
	fi

#: The e-mail channel's tests read a real IMAP server: the project's own dovecot on loopback
#: (scripts/mail_servers.py; Debian's dovecot-imapd installed when root and missing, ~20 s).
mail-deps: $(STAMP) ## Start the project's dovecot for the e-mail tests (installs dovecot-imapd when root)
	@$(PY) scripts/mail_servers.py up >/dev/null || \
	  echo "note: no local IMAP server, the e-mail connector tests are skipped; as root run: apt-get install -y dovecot-imapd" >&2

mail-down: $(STAMP) ## Stop the dovecot that `make mail-deps` started
	$(PY) scripts/mail_servers.py down

CHROMIUM     := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver

browser-deps: ## Debian's chromium and chromium-driver for the browser tests (installed when root)
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	  else \
	    echo "error: $(CHROMIUM) or $(CHROMEDRIVER) is missing; as root run: apt-get install -y chromium chromium-driver" >&2; \
	    exit 1; \
	  fi; \
	fi

test-browser: $(MODEL_STAMP) browser-deps ## The web chat end to end in headless Chromium (installs Chromium as root)
	$(PY) -m pytest -q -m browser tests/browser

#: Suites that run again on PostgreSQL and Redis (`make test-postgres`): everything that stores
#: or that several processes share.
POSTGRES_SUITES = tests/unit/storage tests/unit/broadcasts tests/unit/desk tests/unit/handoff tests/unit/tickets \
	tests/unit/knowledge/test_live_knowledge.py \
	tests/unit/jobs tests/unit/reports tests/unit/conversation tests/unit/security tests/unit/privacy \
	tests/unit/test_run_plan_endpoints.py tests/connectors/test_inbox.py tests/connectors/test_webchat.py \
	tests/components/test_tracker_store.py

engines: $(STAMP) ## Start PostgreSQL and Redis on loopback (installs Debian's packages when root and missing)
	$(PY) scripts/engines.py up

engines-down: $(STAMP) ## Stop the PostgreSQL and Redis that `make engines` started
	$(PY) scripts/engines.py down

test-postgres: $(MODEL_STAMP) engines ## The storage, broadcast, desk, handoff, ticket, job, report suites and the default profile's REST conversations on PostgreSQL
	@eval "$$($(PY) scripts/engines.py env | sed 's/^/export /')" && \
	  $(PY) -m pytest -q -p no:cacheprovider --db=postgres $(POSTGRES_SUITES) && \
	  HELPDESK_TEST_STACK_DB=postgres $(PY) scripts/test_conversations.py --profile djpb

#: The chaos test's length and load in `make test` (the full run: CHAOS_SECONDS=600).
CHAOS_SECONDS ?= 120
CHAOS_CONVERSATIONS ?= 50

test-chaos: $(MODEL_STAMP) index engines ## kill -9 of Rasa, action server, desk leader, sweeper under 50 conversations on make run-cluster; counts lost and duplicated (CHAOS_SECONDS=600 for the full run)
	$(PY) -m tests.chaos.run --duration $(CHAOS_SECONDS) --conversations $(CHAOS_CONVERSATIONS)

test: $(STAMP) ## The whole suite: lint, pytest, validate, stories, conversations, the store suites and conversations again on PostgreSQL, live, browser
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory test-stories
	$(MAKE) --no-print-directory test-conversations
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-chaos
	$(MAKE) --no-print-directory test-live
	$(MAKE) --no-print-directory test-browser

eval: $(STAMP) ## Knowledge-base retrieval figures (vs baselines) and NLU figures (vs Rasa's default config)
	$(HELPDESK) kb eval --source knowledge_base/faq --queries knowledge_base/eval/queries.jsonl --baselines
	$(HELPDESK) kb suite --one-question
	$(PY) scripts/nlu_eval.py --configs default diet-only ours --datasets xsid few-shot

bench: $(MODEL_STAMP) index engines ## Latency, throughput, memory: KB query in process; the whole stack's REST round trips on SQLite and on PostgreSQL
	@eval "$$($(PY) scripts/engines.py env | sed 's/^/export /')" && $(PY) scripts/bench.py

lint: $(STAMP) ## Every import declared (scripts/check_deps.py), ruff (lint + format check), mypy on helpdesk/
	$(PY) scripts/check_deps.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy helpdesk

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## Remove the built index, models and caches (keeps .venv, .venv-st and var/*.db)
	rm -rf models var/kb_index .pytest_cache .ruff_cache .mypy_cache
