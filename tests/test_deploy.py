"""The deployment files, checked offline: no Docker engine or cluster is needed.

Image, docker compose, Kubernetes (strict schemas, rendered Kustomize output),
Prometheus (promtool, including the alert unit tests), Grafana (dashboards and
their SQL on a real PostgreSQL) and the environment variables they all share.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import kubernetes_validate
import nats
import pytest
import yaml
from nats.errors import NoServersError

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port, nats_server_binary, port_open
from services.storage.importer import import_round
from services.storage.migrations import migrate
from tests.debian import ensure_package
from tests.deploy_files import (
    DASHBOARDS,
    DEPLOY,
    ROOT,
    code_variables,
    compose,
    compose_interpolated,
    dashboards,
    example_variables,
    metric_names,
    panels,
    promql_queries,
    sql_queries,
)
from tests.rounds import parsed
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.deploy

SERVICES = ("fetcher", "parser", "storage", "poster", "bot")
K8S = ROOT / "k8s"
K8S_VERSION = "1.32.0"
PROMTOOL = Path("/usr/bin/promtool")


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# --- the image --------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_is_pinned_multi_stage_non_root_and_probes_itself() -> None:
    steps = dockerfile()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for i, a in steps if i == "ARG" and "=" in a}
    bases = [a.split()[0] for i, a in steps if i == "FROM"]
    assert len(bases) >= 2, "build and runtime stages"
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+-slim-\w+", image), image
    final = steps[max(n for n, (i, _) in enumerate(steps) if i == "FROM") :]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    [healthcheck] = [a for i, a in final if i == "HEALTHCHECK"]
    assert '"-m", "services.common.healthcheck"' in healthcheck
    installs = [a for i, a in steps if i == "RUN" and "pip install" in a]
    assert installs and all("-c constraints.txt" in a for a in installs), installs
    assert not [a for i, a in steps if i in ("ENV", "ARG") and re.search(r"TOKEN|PASSWORD", a)]


def test_the_build_context_holds_what_the_image_copies_and_no_secrets() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignore[ignore.index("*") :].count("*") == 1, "everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for instruction, arguments in dockerfile():
        if instruction == "COPY" and "--from=" not in arguments:
            for source in arguments.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is not in the build context"
    assert not allowed & {".env", "sources.yaml", "var", ".venv", "k8s", "ssh"}


def test_constraints_pin_every_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = {
        re.split(r"==", line)[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += [d for d in extra if not d.startswith("etstats[")]
    names = {re.split(r"[<>=\[ ]", d)[0].lower().replace("_", "-") for d in wanted}
    assert names - pinned == set()


def test_the_installed_package_carries_every_service_migration_and_message(tmp_path) -> None:
    """The image installs the package, not the source tree: nothing may be left behind."""
    done = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ".")
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("etstats-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        str(p.relative_to(ROOT))
        for package in ("etstats", "etstats_cli", "services")
        for p in (ROOT / package).rglob("*")
        if p.suffix in (".py", ".sql", ".pyi") and "__pycache__" not in p.parts
    }
    assert wanted - packaged == set()
    top_level = {name.split("/", 1)[0] for name in packaged if "/" in name}
    assert "proto" not in top_level, "a top-level `proto` package clashes with proto-plus"
    for service in SERVICES:
        assert f"services/{service}/__main__.py" in packaged


# --- docker compose ------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    done = run(
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_the_five_services_from_the_one_image_on_healthy_dependencies() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert service["build"] == "." and service["restart"] == "unless-stopped"
        assert service["env_file"] == ".env"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert service["depends_on"]["nats"] == {"condition": "service_healthy"}
    assert services["storage"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    backup_dir = services["storage"]["environment"]["BACKUP_DIR"]
    assert f"backups:{backup_dir}" in services["storage"]["volumes"]
    for infrastructure in ("nats", "postgres"):
        assert services[infrastructure]["healthcheck"]["test"][0] == "CMD"
    mounts = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if isinstance(volume, str)
    }
    for path in mounts:
        assert not path.startswith(".") or (ROOT / path).exists(), path


def test_nats_as_compose_runs_it_has_jetstream_and_requires_the_password(tmp_path) -> None:
    """The compose NATS config file, on the same nats-server: no password, no entry."""
    port, monitor = free_port(), free_port()
    conf = (DEPLOY / "nats" / "nats.conf").read_text()
    conf = conf.replace("port: 4222", f"port: {port}").replace(
        "http_port: 8222", f"http_port: {monitor}"
    )
    conf = conf.replace("store_dir: /data", f"store_dir: {tmp_path / 'js'}")
    (tmp_path / "nats.conf").write_text(conf)
    env = dict(os.environ, NATS_USER="etstats", NATS_PASSWORD="s3cret-Pass_word")
    server = subprocess.Popen(
        [nats_server_binary(), "-c", str(tmp_path / "nats.conf")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    async def connect(**auth: str) -> nats.NATS:
        async def quiet(_: Exception) -> None:
            pass

        return await nats.connect(
            f"nats://127.0.0.1:{port}",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
            error_cb=quiet,
            **auth,
        )

    async def check() -> None:
        nc = await connect(user="etstats", password="s3cret-Pass_word")
        info = await nc.jetstream().account_info()
        assert info.limits.max_storage != 0
        await nc.close()
        for auth in ({}, {"user": "etstats", "password": "wrong"}):
            with pytest.raises((NoServersError, nats.errors.Error, OSError)):
                await connect(**auth)

    try:
        wait_until_sync(
            lambda: server.poll() is not None or port_open("127.0.0.1", port),
            within=5,
            what="nats-server listening or exited",
        )
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        asyncio.run(check())
    finally:
        server.terminate()
        server.wait(10)


# --- environment variables -----------------------------------------------------------


def test_every_variable_the_code_reads_is_documented_in_env_example() -> None:
    missing = {name: files for name, files in code_variables().items()}
    missing = {n: f for n, f in missing.items() if n not in example_variables()}
    assert missing == {}, "add these to .env.example"


def test_env_example_documents_nothing_that_nobody_reads() -> None:
    read = set(code_variables()) | compose_interpolated()
    stale = {
        name
        for name in example_variables()
        if name not in read and name.removesuffix("_FILE") not in read
    }
    assert stale == set()


def test_compose_takes_every_variable_from_env_and_sets_only_real_ones() -> None:
    assert compose_interpolated() - example_variables() == set(), "document in .env.example"
    code = set(code_variables())
    services = compose()["services"]
    for name in SERVICES:
        # .env (documented by .env.example) reaches every service; what compose
        # sets on top must be a variable the code reads.
        assert services[name]["env_file"] == ".env"
        assert set(services[name]["environment"]) - code == set(), name


def test_kubernetes_config_sets_only_variables_the_code_reads() -> None:
    code = set(code_variables())
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    [config] = [g for g in kustomization["configMapGenerator"] if g["name"] == "etstats-config"]
    names = {literal.split("=", 1)[0] for literal in config["literals"]}
    assert names and names - code == set()
    secrets = (K8S / "overlays" / "example" / "secrets.env").read_text()
    secret_names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", secrets, flags=re.MULTILINE))
    assert secret_names - code - {"POSTGRES_PASSWORD"} == set()


# --- Kubernetes ------------------------------------------------------------------------


def k8s_objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc and "kind" in doc]


def manifest_files() -> list[Path]:
    return sorted(
        p
        for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml" and k8s_objects(p.read_text(encoding="utf-8"))
    )


def validate(objects: list[dict[str, Any]], where: str) -> None:
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            name = f"{obj['kind']}/{obj['metadata'].get('name')}"
            raise AssertionError(f"{where}: {name}: {exc.message} at {list(exc.path)}") from None


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kubernetes_manifest_is_valid_in_strict_mode(path: Path) -> None:
    validate(k8s_objects(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the Kustomize output cannot be rendered")
    done = run(kubectl, "kustomize", directory)
    assert done.returncode == 0, done.stderr
    return k8s_objects(done.stdout)


@pytest.mark.parametrize("directory", ["base", "overlays/example"])
def test_rendered_kustomize_output_is_valid_in_strict_mode(directory: str) -> None:
    validate(kustomize(K8S / directory), f"k8s/{directory}")


def test_every_deployment_is_probed_limited_locked_down_and_scraped() -> None:
    objects = kustomize(K8S / "overlays" / "example")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = by_kind["Deployment"]
    assert {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for d in deployments.values()
    } >= set(SERVICES)
    budgets = {
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for pdb in by_kind.get("PodDisruptionBudget", {}).values()
    }
    scraped = {
        svc["spec"]["selector"]["app.kubernetes.io/component"]
        for svc in by_kind["Service"].values()
        if svc["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"
    }
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        component = deployment["spec"]["template"]["metadata"]["labels"][
            "app.kubernetes.io/component"
        ]
        assert pod["securityContext"]["runAsNonRoot"] is True, component
        for container in pod["containers"]:
            assert container["command"][:2] == ["python", "-m"], component
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", component
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", component
            assert {"requests", "limits"} <= set(container["resources"]), component
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, component
            assert security["allowPrivilegeEscalation"] is False, component
        if deployment["spec"].get("replicas", 1) > 1:
            assert component in budgets, f"{component} runs several replicas without a PDB"
        assert component in scraped, f"{component} has no scraped Service"
    assert {"nats", "postgres"} <= set(by_kind["StatefulSet"])


# --- Prometheus ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def promtool() -> Path:
    if reason := ensure_package(PROMTOOL, "prometheus"):
        pytest.skip(reason)
    return PROMTOOL


@pytest.mark.parametrize(
    "check",
    [
        ("check", "config", "prometheus.yml"),
        (
            "check",
            "rules",
            *[
                str(p.relative_to(DEPLOY / "prometheus"))
                for p in (DEPLOY / "prometheus" / "rules").glob("*.yml")
            ],
        ),
        ("test", "rules", "tests/etstats_test.yml"),
    ],
    ids=" ".join,
)
def test_promtool(promtool: Path, check: tuple[str, ...]) -> None:
    done = run(promtool, *check, cwd=DEPLOY / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "etstats.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "prometheus" / "tests" / "etstats_test.yml").read_text())
    tested = {
        t["alertname"]
        for case in tests["tests"]
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert alerts == tested


def test_prometheus_scrapes_every_service_of_the_compose_file() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICES:
        [target] = jobs[f"etstats-{name}"]["dns_sd_configs"]
        assert target["names"] == [name] and target["port"] == 8080
        assert compose()["services"][name]["environment"]["HTTP_PORT"] == "8080"


# --- Grafana ---------------------------------------------------------------------------


def test_dashboards_load_and_use_the_provisioned_datasources() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "etstats.yml").read_text()
    )
    uids = {d["uid"] for d in provisioned["datasources"]}
    titles = {"Pipeline", "Sources", "Discord", "Rounds and rejections"}
    assert len(DASHBOARDS) == 4
    seen_uids, seen_titles = set(), set()
    for path, dashboard in dashboards():
        seen_uids.add(dashboard["uid"])
        seen_titles.add(dashboard["title"].split("·")[-1].strip())
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), path.name
        for panel in panels(dashboard):
            for target in [panel, *panel.get("targets", [])]:
                if "datasource" in target:
                    assert target["datasource"]["uid"] in uids, (path.name, panel["title"])
    assert len(seen_uids) == 4 and seen_titles == titles


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum(rate(etstats_messages_total{outcome="nak"}[5m]))', {"etstats_messages_total"}),
        (
            "histogram_quantile(0.9, sum by (le, source) (rate(x_bucket[$__rate_interval])))",
            {"x_bucket"},
        ),
        ('time() - max by (source) (a{stage="poll"}) > 300 and on (source) b == 1', {"a", "b"}),
        ("label_values(etstats_fetcher_polls_total, source)", {"etstats_fetcher_polls_total"}),
        ("increase(c[$__range]) / 1e3 + up", {"c", "up"}),
        ("sum(rat(d[5m]))", {"rat", "d"}),  # a misspelt function is caught as an unknown name
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_query_names_some_metric() -> None:
    queries = list(promql_queries())
    assert len(queries) > 40
    assert [where for where, expr in queries if not metric_names(expr)] == []


def grafana_sql(sql: str) -> str:
    """The SQL Grafana sends, for a six-hour dashboard range."""
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        r"\1 BETWEEN now() - interval '6 hours' AND now()",
        sql,
    )
    return re.sub(
        r"\$__timeGroupAlias\(([^,]+),\s*'([^']+)'\)",
        "date_bin(interval '\\2', \\1, timestamptz 'epoch') AS \"time\"",
        sql,
    )


async def test_dashboard_sql_runs_as_the_read_only_grafana_role(database_url: str) -> None:
    """The compose init script makes the reader; the panels' SQL runs as it, after
    storage's migrations and one stored round."""
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
    if "already exists" not in done.stderr:  # the role is cluster-wide
        assert done.returncode == 0, done.stderr

    owner = await asyncpg.connect(database_url)
    try:
        await migrate(owner)
        r1, _ = generate_match(random.Random(3), datetime(2026, 11, 24, 21, 0), players=6)
        await import_round(owner, parsed(r1))
    finally:
        await owner.close()

    login = url.netloc.rpartition("@")[0]
    reader_url = url._replace(netloc=url.netloc.replace(login, "grafana:reader-pass", 1)).geturl()
    reader = await asyncpg.connect(reader_url)
    try:
        queries = list(sql_queries())
        assert len(queries) >= 5
        for where, sql in queries:
            try:
                await reader.fetch(grafana_sql(sql))
            except asyncpg.PostgresError as exc:
                raise AssertionError(f"{where}: {exc}") from None
        recent = next(sql for where, sql in queries if "Recent rounds" in where)
        assert len(await reader.fetch(grafana_sql(recent))) == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("DELETE FROM rounds")
    finally:
        await reader.close()
