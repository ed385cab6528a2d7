# The assistant's image: one image for every process of the cluster (deploy/compose.yml gives
# each container its command, the one `make run-cluster` runs), with the Rasa model trained and
# the FAQ index built at build time, so a container needs nothing but its environment.
#
#   docker build -t helpdesk-assistant .
#
# No secret is baked in: tokens and passwords come from the environment when a container starts
# (deploy/.env; the repository's .env is excluded by .dockerignore). Without a command the
# image runs `make run`'s processes in one container (scripts/run.py, SQLite under /app/var).
# docs/operations.md, "Containers".

ARG PYTHON_IMAGE=python:3.10-slim

# --- build: the virtual environment, the model and the index ------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false
WORKDIR /app

# The pinned runtime dependencies, as `make venv` installs them (without the dev tools): this
# layer is rebuilt only when the pins change.
COPY requirements.txt constraints.txt ./
RUN python -m venv .venv \
 && .venv/bin/python -m pip install --quiet --upgrade "pip==26.3" wheel \
 && .venv/bin/python -m pip install --quiet -r requirements.txt -c constraints.txt

# The project, installed editable as `make venv` does: helpdesk/settings.py finds the knowledge
# base, the menu and var/ beside the package, in /app.
COPY . .
RUN .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e . \
 && .venv/bin/python -m compileall -q actions components connectors helpdesk rasa_sdk_plugins scripts

# `make train` and `make index` (the same commands; tests/unit/test_container_image.py checks
# them against the Makefile). Rasa's training cache stays out of the image.
RUN RASA_CACHE_DIRECTORY=/tmp/rasa-cache \
    .venv/bin/rasa train --config config.yml --domain domain --data data --out models --fixed-model-name helpdesk \
 && rm -rf /tmp/rasa-cache
RUN .venv/bin/helpdesk kb build

# --- runtime: the project, its environment, the model and the index; a user without rights -------
FROM ${PYTHON_IMAGE}
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    HOME=/home/helpdesk
RUN groupadd --system --gid 10001 helpdesk \
 && useradd --system --uid 10001 --gid helpdesk --create-home --home-dir /home/helpdesk helpdesk
WORKDIR /app
COPY --from=build /app /app
# The code, the model and the index stay root's (read-only to the processes); var/ is where a
# single-container run keeps its SQLite files and logs.
RUN chown helpdesk:helpdesk /app/var
USER helpdesk

# Rasa (REST, web chat, channels), the action server, the agent desk, the backend simulator.
EXPOSE 5005 5055 5060 8081
CMD ["/app/.venv/bin/python", "scripts/run.py"]
