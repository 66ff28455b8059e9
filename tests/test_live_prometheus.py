"""Every dashboard query and alert rule, asked of a real Prometheus that scrapes
`etstats up` after demo rounds, a rejected file and a sync.

Each returns data (a finite number, 0 included), or is listed in EMPTY_UNTIL with
what must happen first. The Prometheus is Debian's (the one promtool comes from);
test_deploy.py checks what differs from the 3.x image compose deploys.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port
from services.common.config import DEFAULT_HTTP_PORTS
from tests.debian import ensure_package
from tests.deploy_files import RULE_FILES, promql_queries
from tests.test_stack import get, stack  # noqa: F401  (the fixture)
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.e2e

PROMETHEUS = Path("/usr/bin/prometheus")
# `etstats up` runs these; the bot only with a Discord token, which the test has not.
RUNNING = ("fetcher", "parser", "storage", "poster")

# Content types of the scrape protocols Prometheus 3 knows (scrape_protocols).
PROMETHEUS_3_PROTOCOLS = {
    "text/plain; version=0.0.4",
    "text/plain; version=1.0.0",
    "application/openmetrics-text; version=0.0.1",
    "application/openmetrics-text; version=1.0.0",
}
# Queries that are rightly empty on this stack, and what would fill them.
EMPTY_UNTIL = {
    "discord.json: Post time": "posts go to Discord (without a token the stack prints them)",
    "sources.json: SSH errors by kind": "an SFTP source is configured (the stack's is a directory)",
    "sources.json: SSH (re)connects per hour": "an SFTP source is configured",
    "etstats.yml: EtstatsSourceNotPolled": "a monitored source goes 5 minutes without a poll",
    "etstats.yml: EtstatsIngestionStalled": "a fetched file has no outcome 5 minutes later",
    "etstats.yml: EtstatsErrorRateHigh": "a stage fails 3 messages and over 20 % in 30 minutes",
    "etstats.yml: EtstatsConsumerLagGrowing": "a consumer's backlog passes 50 and grows",
    "etstats.yml: EtstatsBackupTooOld": (
        "the last backup is 2 days old, or storage runs 2 days without one"
    ),
}
# What Grafana puts in for its variables (a range the stack's minute of life is in).
GRAFANA = {"$__range": "1h", "$__rate_interval": "1m", "$source": ".*"}


def grafana_promql(expr: str) -> str:
    for variable, value in GRAFANA.items():
        expr = expr.replace(variable, value)
    # A template variable's label_values(metric, label): the values that exist.
    return re.sub(r"label_values\(\s*([^,]+),\s*(\w+)\s*\)", r"count by (\2) (\1)", expr)


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        status, body = get(f"{self.url}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert status == 200, (expr, body)
        data = json.loads(body)["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def values(self, expr: str) -> list[float]:
        return [float(r["value"][1]) for r in self.query(expr)]

    def has_data(self, expr: str) -> bool:
        return any(math.isfinite(v) for v in self.values(expr))


@pytest.fixture
def prometheus(tmp_path: Path) -> Any:
    """Starts a Prometheus for a port base; it scrapes every second."""
    if reason := ensure_package(PROMETHEUS, "prometheus"):
        pytest.fail(reason)
    started: list[subprocess.Popen[bytes]] = []

    def start(base: int) -> Prometheus:
        port = free_port()
        jobs = [
            {
                "job_name": f"etstats-{name}",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{base + DEFAULT_HTTP_PORTS[name] - 8080}"]}
                ],
            }
            for name in RUNNING
        ]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in RULE_FILES],
            "scrape_configs": jobs,
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        server = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(server)
        prom = Prometheus(port)

        def ready() -> bool:
            assert server.poll() is None, "prometheus exited"
            try:
                return get(f"{prom.url}/-/ready")[0] == 200
            except OSError:
                return False

        wait_until_sync(ready, within=30, what="prometheus ready")
        assert server.poll() is None, "prometheus exited"
        return prom

    yield start
    for server in started:
        server.terminate()
        server.wait(10)


def etstats(*args: str, var: Path, nats_port: str) -> str:
    env = dict(os.environ, ETSTATS_VAR_DIR=str(var), EMBEDDED_NATS_PORT=nats_port)
    env.pop("NATS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "etstats_cli.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_dashboard_query_and_alert_returns_data_on_the_live_stack(
    stack,  # noqa: F811
    prometheus,
) -> None:
    proc, output, var, base = stack
    try:
        check_every_query(output, var, base, prometheus)
    finally:
        # As Ctrl-C does: the stack stops its services and its PostgreSQL.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)


def check_every_query(output: Any, var: Path, base: int, prometheus: Any) -> None:
    output.wait_for(r"all 4 services ready", timeout=120)
    prom = prometheus(base)
    nats_port = output.wait_for(r"embedded NATS with JetStream at nats://[\d.]+:(\d+)", 5)[1]

    # Prometheus 3 refuses a scrape whose Content-Type it does not know (2.x guessed):
    # the services send one of 3.x's scrape protocols.
    for name in RUNNING:
        url = f"http://127.0.0.1:{base + DEFAULT_HTTP_PORTS[name] - 8080}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            media = response.headers["Content-Type"].split("; charset")[0]
            assert media in PROMETHEUS_3_PROTOCOLS, media

    # Series exist at 0 before anything happened: the first event of each counts.
    wait_until_sync(
        lambda: prom.values('sum(etstats_rejections_total{stage="parser"})') == [0.0],
        within=20,
        what="parser rejections scraped at 0",
    )
    # Every service scraped once before the first round, which is posted within a
    # poll: a histogram first scraped with its round in it never shows a rate.
    wait_until_sync(
        lambda: prom.values("sum(up)") == [float(len(RUNNING))],
        within=20,
        what="every service scraped",
    )

    # Two rounds of a map played an hour ago, then a file that is no round.
    r1, r2 = generate_match(random.Random(11), datetime.now() - timedelta(hours=1), players=6)
    for played in (r1, r2):
        (var / "gamestats" / played.filename).write_bytes(played.body)
    output.wait_for(re.escape(r2.header.map) + r" · round 2 ==", timeout=30)
    bad = (datetime.now() - timedelta(minutes=30)).strftime("%Y-%m-%d-%H%M%S-oasis-round-1.txt")
    (var / "gamestats" / bad).write_bytes(b"no stats in here\n")
    output.wait_for(r"parser +\| .*rejected " + re.escape(bad), timeout=30)
    etstats("sync", "today", var=var, nats_port=nats_port)
    output.wait_for(r"poster +\| .*sync", timeout=30)

    # The first rejection is seen (the series was at 0 before it), and it is an
    # outcome: storage's mark for the source is no older than the fetcher's.
    wait_until_sync(
        lambda: prom.has_data('sum(rate(etstats_rejections_total{stage="parser"}[5m])) > 0'),
        within=20,
        what="the first rejection in the rejections panel",
    )
    mark = 'max by (source) (etstats_last_success_timestamp_seconds{stage="%s", source="local"})'
    outcome = f"{mark % 'storage'} >= {mark % 'fetch'}"
    wait_until_sync(lambda: prom.has_data(outcome), within=20, what="the rejection an outcome")

    queries = [(where, grafana_promql(expr)) for where, expr in promql_queries()]
    expected = {where for where, _ in queries} - set(EMPTY_UNTIL)
    assert set(EMPTY_UNTIL) <= {where for where, _ in queries}, "stale EMPTY_UNTIL entries"
    empty: list[str] = []

    def all_answer() -> bool:
        empty[:] = sorted(
            {w for w, e in queries if w in expected and not prom.has_data(e)}
            - {"etstats.yml: EtstatsServiceDown"}
        )
        return not empty

    try:
        wait_until_sync(all_answer, within=30, what="every query answering")
    except AssertionError:
        raise AssertionError(f"empty: {empty}") from None
    for where, expr in queries:
        if where in EMPTY_UNTIL:
            assert not prom.has_data(expr), (
                f"{where} is not empty: is it still {EMPTY_UNTIL[where]}?"
            )

    # The bot is not running (no Discord token): no target at all, and the alert sees it.
    [down] = [e for w, e in queries if w == "etstats.yml: EtstatsServiceDown"]
    assert [r["metric"] for r in prom.query(down)] == [{"job": "etstats-bot"}]
