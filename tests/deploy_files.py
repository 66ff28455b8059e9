"""What the deployment files say: the metrics they query, the variables they set.

Shared by the offline checks (test_deploy.py) and the end-to-end stack test,
which compares the queried metric names with what the running services export.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))

# Series Prometheus makes itself rather than scraping them from a service.
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE"}

# PromQL's functions, aggregations and keywords: every other word is a metric.
PROMQL_WORDS = set(
    [
        "abs",
        "absent",
        "absent_over_time",
        "and",
        "avg",
        "avg_over_time",
        "bool",
        "bottomk",
        "by",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "count",
        "count_over_time",
        "delta",
        "deriv",
        "floor",
        "group",
        "group_left",
        "group_right",
        "histogram_quantile",
        "idelta",
        "ignoring",
        "increase",
        "irate",
        "label_replace",
        "label_values",
        "last_over_time",
        "max",
        "max_over_time",
        "min",
        "min_over_time",
        "offset",
        "on",
        "or",
        "predict_linear",
        "quantile",
        "quantile_over_time",
        "rate",
        "resets",
        "round",
        "scalar",
        "sort",
        "sort_desc",
        "stddev",
        "sum",
        "sum_over_time",
        "time",
        "timestamp",
        "topk",
        "unless",
        "vector",
        "without",
    ]
)


def dashboards() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in DASHBOARDS:
        yield path, json.loads(path.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # inside collapsed rows


def promql_queries() -> Iterator[tuple[str, str]]:
    """(where, expression) for every dashboard target, template variable and alert rule."""
    for path, dashboard in dashboards():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield f"{path.name}: {panel.get('title')}", target["expr"]
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            source = variable.get("datasource") or {}
            if variable.get("type") == "query" and source.get("type") == "prometheus":
                assert isinstance(query, str), f"{path.name}: ${variable['name']}"
                yield f"{path.name}: ${variable['name']}", query
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                yield f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def sql_queries(only: Path | None = None) -> Iterator[tuple[str, str]]:
    """(where, SQL) for every PostgreSQL panel target (of one dashboard file)."""
    for path, dashboard in dashboards():
        if only is not None and path != only:
            continue
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "rawSql" in target:
                    yield f"{path.name}: {panel.get('title')}", target["rawSql"]


async def grafana_reader_url(database_url: str) -> str:
    """Runs the compose init script that makes Grafana's read-only role on the
    database's server; the URL to log in as it."""
    from pgserver._commands import POSTGRES_BIN_PATH

    url = urlsplit(database_url)
    env = dict(
        os.environ,
        PATH=f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",
        PGHOST=parse_qs(url.query).get("host", [url.hostname or ""])[0],
        PGPORT=str(url.port or 5432),
        POSTGRES_USER=url.username or "postgres",
        POSTGRES_DB=url.path.lstrip("/"),
        GRAFANA_DB_PASSWORD="reader-pass",
    )
    script = DEPLOY / "postgres" / "initdb" / "10-grafana-reader.sh"
    done = await asyncio.to_thread(
        subprocess.run, ["sh", str(script)], env=env, capture_output=True, text=True
    )
    if "already exists" in done.stderr:  # the role is cluster-wide: grant it this database
        grants = ["sh", "-c", f"sed '/^CREATE ROLE/d' {shlex.quote(str(script))} | sh"]
        done = await asyncio.to_thread(
            subprocess.run, grants, env=env, capture_output=True, text=True
        )
    assert done.returncode == 0, done.stderr
    login = url.netloc.rpartition("@")[0]
    return url._replace(netloc=url.netloc.replace(login, "grafana:reader-pass", 1)).geturl()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (no full parser needed:
    label matchers, ranges, grouping labels, strings and numbers are removed first)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"label_values\(\s*([\w:]+)\s*,\s*\w+\s*\)", r"\1", text)
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?(e[+-]?\d+)?\b", "", text)
    return {word for word in re.findall(r"[A-Za-z_:][\w:]*", text) if word not in PROMQL_WORDS}


def queried_metrics() -> dict[str, set[str]]:
    """Each metric name any dashboard or alert queries, and where."""
    names: dict[str, set[str]] = {}
    for where, expr in promql_queries():
        for name in metric_names(expr):
            names.setdefault(name, set()).add(where)
    return names


def exported_names(expositions: Iterable[str]) -> set[str]:
    """Every series name /metrics pages can produce, including histogram parts."""
    names = set()
    for text in expositions:
        for family in text_string_to_metric_families(text):
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{part}" for part in ("_bucket", "_sum", "_count"))
    return names


def unexported(expositions: Iterable[str]) -> dict[str, set[str]]:
    """Queried names that no service exports: a panel or alert that would stay empty."""
    exported = exported_names(expositions) | PROMETHEUS_OWN
    return {name: where for name, where in queried_metrics().items() if name not in exported}


# --- environment variables -------------------------------------------------------------

_READS = (
    r'\benv\.(?:str|int|float|bool|duration|optional)\(\s*"([A-Z][A-Z0-9_]*)"',
    r'\b(?:environ|env)\.get\(\s*"([A-Z][A-Z0-9_]*)"',
    r'\b(?:environ|env)\[\s*"([A-Z][A-Z0-9_]*)"\s*\]',
    r'\benv\.setdefault\(\s*"([A-Z][A-Z0-9_]*)"',
)


def code_variables() -> dict[str, set[str]]:
    """Each environment variable etstats' code reads, and the files that read it."""
    found: dict[str, set[str]] = {}
    for package in ("etstats", "etstats_cli", "services"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in _READS:
                for name in re.findall(pattern, text):
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def example_variables() -> set[str]:
    """The variables .env.example documents, set or commented out."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def compose_interpolated() -> set[str]:
    """Variables docker compose substitutes from .env into the file itself."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


# --- who gets which variable -----------------------------------------------------------

SERVICES = ("fetcher", "parser", "storage", "poster", "bot")

# Variables that hold secrets, or that are enough to reach a secret.
SECRETS = frozenset(
    {
        "NATS_USER",
        "NATS_PASSWORD",
        "DATABASE_URL",
        "POSTGRES_PASSWORD",
        "DISCORD_TOKEN",
        "GRAFANA_DB_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "GF_SECURITY_ADMIN_PASSWORD",
    }
)


def is_secret(name: str) -> bool:
    return name in SECRETS or name.removesuffix("_FILE") in SECRETS


def service_code_variables() -> dict[str, set[str]]:
    """What each service's code reads: its own package, services/common/ (every
    service imports it) and the shared etstats/ library; etstats_cli is not in
    the image's services."""
    shared = ("services/common/", "etstats/")
    reads: dict[str, set[str]] = {service: set() for service in SERVICES}
    for name, files in code_variables().items():
        for service in SERVICES:
            if any(f.startswith((f"services/{service}/", *shared)) for f in files):
                reads[service].add(name)
    return reads


def compose_environment(service: dict[str, Any]) -> set[str]:
    """The variables compose puts into a service's containers (merge keys resolved
    by the YAML loader). An `env_file` passes every variable of .env, which may
    hold anything .env.example documents."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        names = {entry.split("=", 1)[0] for entry in environment}
    else:
        names = set(environment)
    if "env_file" in service:
        names |= example_variables()
    return names
