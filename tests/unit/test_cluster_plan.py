"""`make run-cluster`'s plan: two of each server behind nginx, on loopback ports, same URLs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts.cluster_plan import (
    CLUSTER_PORT_OFFSET,
    check_nginx_config,
    cluster_environment,
    cluster_plan,
    nginx_config,
)
from scripts.run_plan import build_environment

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = build_environment({"HELPDESK_VAR_DIR": str(tmp_path), "HELPDESK_DESK_HOST": ""})
    env.update(
        HELPDESK_DATABASE_URL="postgresql://u:p@db/helpdesk",
        RASA_TRACKER_STORE_URL="postgresql://u:p@db/rasa",
        HELPDESK_REDIS_URL="redis://:p@cache:6379/0",
    )
    return env


def test_two_of_each_server_then_nginx_on_the_public_ports(env, tmp_path):
    services = cluster_plan(env, tmp_path / "credentials.yml", tmp_path / "endpoints.yml")
    names = [s.name for s in services]
    assert names == [
        "backend",
        "actions-1",
        "actions-2",
        "rasa-1",
        "rasa-2",
        "sweeper-1",
        "sweeper-2",
        "desk-1",
        "desk-2",
        "nginx",
    ]
    by_name = {s.name: s for s in services}
    rasa_port = int(env["RASA_PORT"])
    for number in (1, 2):
        rasa = by_name[f"rasa-{number}"].args
        own = str(rasa_port + CLUSTER_PORT_OFFSET + number)
        assert rasa[rasa.index("--port") + 1] == own
        assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
        assert rasa[rasa.index("--endpoints") + 1] == str(tmp_path / "endpoints.yml")
        assert by_name[f"desk-{number}"].health.startswith("http://localhost:")
    # nginx answers on make run's own port; its config names every server behind it
    assert by_name["nginx"].health == f"http://127.0.0.1:{rasa_port}/nginx-health"
    text = (tmp_path / "cluster" / "nginx" / "nginx.conf").read_text()
    for number in (1, 2):
        for variable in ("RASA_PORT", "RASA_ACTIONS_PORT", "HELPDESK_DESK_PORT"):
            port = int(env[variable]) + CLUSTER_PORT_OFFSET + number
            assert f"server 127.0.0.1:{port} " in text
    assert f"listen {rasa_port};" in text
    assert f"listen 127.0.0.1:{env['RASA_ACTIONS_PORT']};" in text
    assert f"listen 127.0.0.1:{env['HELPDESK_DESK_PORT']};" in text


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")
def test_nginx_accepts_the_configuration(env, tmp_path):
    cluster_plan(env, tmp_path / "c.yml", tmp_path / "e.yml")
    assert check_nginx_config(NGINX, tmp_path / "cluster" / "nginx" / "nginx.conf") == ""


def test_the_web_chat_sticks_to_one_server_and_nothing_is_sent_twice(env, tmp_path):
    text = nginx_config(env, {"rasa": [1, 2], "actions": [3, 4], "desk": [5, 6]}, tmp_path)
    sticky = text[text.index("upstream rasa_sticky") :]
    assert sticky.split("}")[0].count("ip_hash") == 1
    assert "proxy_next_upstream error timeout;" in text
    assert "non_idempotent" not in text  # a POST that reached a server is never replayed


def test_a_sqlite_database_is_refused_for_a_cluster(env):
    env["HELPDESK_DATABASE_URL"] = "sqlite:///var/helpdesk.db"
    with pytest.raises(ValueError, match="HELPDESK_DATABASE_URL is SQLite"):
        cluster_environment(env)


def test_given_engines_are_used_as_they_are(env, monkeypatch):
    def refuse() -> None:
        raise AssertionError("no engine may be started when all are given")

    monkeypatch.setattr("scripts.engines.start_postgres", refuse)
    monkeypatch.setattr("scripts.engines.start_redis", refuse)
    out = cluster_environment(dict(env))
    assert out["HELPDESK_DATABASE_URL"] == env["HELPDESK_DATABASE_URL"]
    assert out["HELPDESK_REDIS_URL"] == env["HELPDESK_REDIS_URL"]
    assert out["SANIC_PROXIES_COUNT"] == "1"


def test_systemd_units_run_what_the_plan_runs(env, tmp_path):
    from scripts.cluster_plan import systemd_units, write_env_file

    services = cluster_plan(env, tmp_path / "c.yml", tmp_path / "e.yml")
    env_file = write_env_file({**env, "HELPDESK_PROCESS_NAME": "x"}, tmp_path / "helpdesk.env")
    units = systemd_units(env, services, env_file=env_file)

    assert set(units) == {f"helpdesk-{s.name}.service" for s in services} | {"helpdesk.target"}
    rasa = units["helpdesk-rasa-2.service"]
    assert "Environment=HELPDESK_PROCESS_NAME=rasa-2" in rasa
    assert f"EnvironmentFile={env_file}" in rasa and "Restart=always" in rasa
    assert "After=network-online.target postgresql.service redis-server.service " in rasa
    assert "helpdesk-rasa-1.service" in rasa  # started after the one before it
    started = next(line for line in rasa.splitlines() if line.startswith("ExecStart="))
    assert "--interface 127.0.0.1" in started and "RASA_API_TOKEN" not in started
    assert all(name in units["helpdesk.target"] for name in units if name != "helpdesk.target")
    # The environment file: the secrets, readable by the owner only, not the supervisor's name.
    text = env_file.read_text()
    assert f'RASA_API_TOKEN="{env["RASA_API_TOKEN"]}"' in text
    assert "HELPDESK_PROCESS_NAME" not in text
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_metrics_are_not_served_on_the_public_ports(env, tmp_path):
    text = nginx_config(env, {"rasa": [1, 2], "actions": [3, 4], "desk": [5, 6]}, tmp_path)
    rasa = text[text.index(f"listen {env['RASA_PORT']};") :].split("\n    }\n")[0]
    desk = text[text.index(f":{env['HELPDESK_DESK_PORT']};") :].split("\n    }\n")[0]
    for block in (rasa, desk):
        metrics = block.index("location = /metrics {")
        assert block[metrics:].split("}")[0].split("{")[1].split() == ["return", "404;"]
        assert metrics < block.index("location / {")  # an exact match, listed before the rest


def test_each_sweeper_serves_healthz_on_its_own_loopback_port(env, tmp_path):
    services = cluster_plan(env, tmp_path / "credentials.yml", tmp_path / "endpoints.yml")
    by_name = {s.name: s for s in services}
    public = int(env["HELPDESK_SWEEPER_PORT"])
    for number in (1, 2):
        sweeper = by_name[f"sweeper-{number}"]
        port = str(public + CLUSTER_PORT_OFFSET + number)
        assert sweeper.args[sweeper.args.index("--port") + 1] == port
        assert sweeper.args[sweeper.args.index("--host") + 1] == "127.0.0.1"
        assert sweeper.health == f"http://127.0.0.1:{port}/healthz"
