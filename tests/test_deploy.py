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
import tempfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    SERVICES,
    code_variables,
    compose,
    compose_environment,
    compose_interpolated,
    dashboards,
    example_variables,
    grafana_reader_url,
    is_secret,
    metric_names,
    panels,
    promql_queries,
    service_code_variables,
    sql_queries,
)
from tests.grafana_sql import defaults_of, grafana_sql, variables_of
from tests.rounds import parsed
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.deploy

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
    postgres = compose()["services"]["postgres"]["image"]
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
        # pg_dump comes from the very PostgreSQL image the stack runs.
        assert image == postgres or re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+-slim-\w+", image), image
    assert args["POSTGRES_IMAGE"] == postgres
    # No `# syntax=` directive: BuildKit would fetch a frontend image for it.
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, flags=re.MULTILINE | re.IGNORECASE)
    # Only the base image's apt repositories (PostgreSQL's own needs a network
    # the build may not have): nothing adds one.
    assert not [
        a for i, a in steps if i == "RUN" and re.search(r"apt\.postgresql|sources\.list", a)
    ]
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
        assert "env_file" not in service, f"{name}: env_file hands it every secret in .env"
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


@pytest.mark.parametrize(
    "config",
    [DEPLOY / "nats" / "nats.conf", K8S / "base" / "nats" / "nats.conf"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nats_config_has_jetstream_and_requires_the_password(config: Path, tmp_path) -> None:
    """The compose and the Kubernetes NATS config files, on the same nats-server,
    with the credentials in the environment only: no password, no entry."""
    port, monitor = free_port(), free_port()
    conf = config.read_text()
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


# Read by the process rather than by etstats' code: the fetcher's clock zone.
NOT_ETSTATS = {"TZ"}

# The secrets each container may hold: what its own process needs, nothing more.
# On compose, storage's DATABASE_URL is built from POSTGRES_PASSWORD.
ALLOWED_SECRETS = {
    "fetcher": {"NATS_USER", "NATS_PASSWORD"},
    "parser": {"NATS_USER", "NATS_PASSWORD"},
    "storage": {"NATS_USER", "NATS_PASSWORD", "DATABASE_URL", "POSTGRES_PASSWORD"},
    "poster": {"NATS_USER", "NATS_PASSWORD", "DISCORD_TOKEN"},
    "bot": {"NATS_USER", "NATS_PASSWORD", "DISCORD_TOKEN"},
    "nats": {"NATS_USER", "NATS_PASSWORD"},
    # The initdb script creates Grafana's read-only role with its password.
    "postgres": {"POSTGRES_PASSWORD", "GRAFANA_DB_PASSWORD"},
    "grafana": {"GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"},
    "prometheus": set(),
    "ssh-keys": set(),
}


def compose_secrets(service: dict[str, Any]) -> set[str]:
    """Secret variables a compose service receives, by name or inside a value."""
    names = {name for name in compose_environment(service) if is_secret(name)}
    environment = service.get("environment", {})
    values = environment if isinstance(environment, list) else environment.values()
    for value in values:
        names |= {n for n in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", str(value)) if is_secret(n)}
    return names


def test_compose_gives_each_service_only_the_variables_and_secrets_it_reads() -> None:
    services = compose()["services"]
    reads = service_code_variables()
    for name in SERVICES:
        received = compose_environment(services[name])
        assert received - reads[name] - NOT_ETSTATS == set(), f"{name} does not read these"
    for name, service in services.items():
        assert compose_secrets(service) <= ALLOWED_SECRETS[name], name
    for name in SERVICES:
        assert {"NATS_USER", "NATS_PASSWORD"} <= compose_environment(services[name]), name
    assert "DATABASE_URL" in services["storage"]["environment"]
    for name in ("poster", "bot"):
        assert "DISCORD_TOKEN" in services[name]["environment"], name


def test_compose_passes_every_setting_a_service_reads() -> None:
    """Without env_file, a setting compose does not list never reaches the service:
    a new variable in the code must be added to its service here."""
    services = compose()["services"]
    # The sources come from the mounted sources.yaml; replicas name themselves.
    not_passed = {"LOCAL_SOURCE_DIR", "SOURCES_FILE", "INSTANCE_ID"}
    for name in SERVICES:
        missing = service_code_variables()[name] - not_passed - compose_environment(services[name])
        assert missing == set(), f"{name}: pass these in docker-compose.yml"
    for name in ("fetcher", "poster"):
        assert services[name]["environment"]["SOURCES_FILE"] == "/etc/etstats/sources.yaml"


def bind_mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in service.get("volumes", []) if isinstance(v, dict) and v["type"] == "bind"]


def test_only_the_fetcher_mounts_the_ssh_keys() -> None:
    """./ssh is read by the one-shot ssh-keys step, which hands its copies to the fetcher."""
    services = compose()["services"]
    for name, service in services.items():
        has_keys = any(m["source"] == "./ssh" for m in bind_mounts(service))
        assert has_keys == (name == "ssh-keys"), name
        copies = any(str(v).startswith("ssh-keys:") for v in service.get("volumes", []))
        assert copies == (name in ("ssh-keys", "fetcher")), name
    fetcher = services["fetcher"]
    assert "ssh-keys:/etc/etstats/ssh:ro" in fetcher["volumes"]
    assert fetcher["depends_on"]["ssh-keys"] == {"condition": "service_completed_successfully"}
    step = services["ssh-keys"]
    assert step["network_mode"] == "none" and step["read_only"] is True
    assert step["cap_drop"] == ["ALL"]
    assert set(step["cap_add"]) == {"DAC_READ_SEARCH", "CHOWN", "FOWNER"}


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_the_fetcher_can_read_a_key_made_as_the_readme_says(open_tmp: Path) -> None:
    """`ssh-keygen` writes the key 0600 for the deployer: the fetcher's user cannot
    read it. The ssh-keys step's own script (run here as root, as in its container)
    gives the fetcher a copy it alone can read, and replaces a stale one."""
    if os.geteuid() != 0:
        pytest.fail("this check runs as root, as the ssh-keys container does")
    fetcher_uid = int(next(a for i, a in dockerfile() if i == "USER").split(":")[0])
    ssh, keys = open_tmp / "ssh", open_tmp / "keys"
    ssh.mkdir(mode=0o755)
    keys.mkdir(mode=0o755)
    done = run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh / "id_ed25519")
    assert done.returncode == 0, done.stderr
    (ssh / "known_hosts").write_text("[game.example]:22 ssh-ed25519 AAAA\n")
    deployer = 1234
    for path in (ssh, *ssh.iterdir()):
        os.chown(path, deployer, deployer)
    (keys / "old_key").write_text("a key no longer in ./ssh")
    assert (ssh / "id_ed25519").stat().st_mode & 0o777 == 0o600

    def as_fetcher(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["cat", str(path)], user=fetcher_uid, capture_output=True, text=True, timeout=10
        )

    assert as_fetcher(ssh / "id_ed25519").returncode != 0, "the fetcher reads it already"
    script = compose()["services"]["ssh-keys"]["command"]
    assert script[:2] == ["sh", "-ec"]
    body = script[2].replace("$$", "$").replace("/ssh/", f"{ssh}/").replace("/keys", str(keys))
    # As in its container: root with only the capabilities compose gives it.
    step = compose()["services"]["ssh-keys"]
    caps = ",".join(f"+{c.lower()}" for c in step["cap_add"])
    done = run("setpriv", f"--bounding-set=-all,{caps}", "sh", "-ec", body)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in keys.iterdir()) == ["id_ed25519", "id_ed25519.pub", "known_hosts"]
    for copy in keys.iterdir():
        info = copy.stat()
        assert (info.st_uid, info.st_mode & 0o777) == (fetcher_uid, 0o400), copy.name
        read = as_fetcher(copy)
        assert read.stdout == (ssh / copy.name).read_text(), read.stderr


STATS_MOUNT = "/srv/gamestats"


def test_the_fetcher_mounts_a_local_stats_directory_for_dir_sources() -> None:
    [mount] = [
        m for m in bind_mounts(compose()["services"]["fetcher"]) if m["target"] == STATS_MOUNT
    ]
    assert mount["source"] == "${STATS_DIR:-./gamestats}"
    assert mount["read_only"] is True
    # A missing directory stops `up` with an error instead of an empty dir made by Docker.
    assert mount["bind"] == {"create_host_path": False}
    assert "STATS_DIR" in example_variables()
    section = readme_section("### docker compose")
    assert "STATS_DIR" in section and STATS_MOUNT in section and "mkdir" in section
    assert f"dir: {STATS_MOUNT}" in (ROOT / "sources.example.yaml").read_text(encoding="utf-8")


def readme_section(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n#", start + len(heading) + 2)
    return text[start : end if end != -1 else None]


def test_readme_says_the_compose_file_needs_compose_v2() -> None:
    """Top-level `name:` and `create_host_path` are Compose v2 (Debian 12's
    docker-compose 1.29 refuses the file)."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "name" in compose() and "create_host_path" in text
    section = readme_section("### docker compose")
    assert "Compose v2" in section and "docker-compose 1.29" in section


def test_prometheus_has_a_configurable_local_port_and_a_healthcheck() -> None:
    prometheus = compose()["services"]["prometheus"]
    assert prometheus["ports"] == ["127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"]
    assert "PROMETHEUS_PORT" in example_variables()
    check = prometheus["healthcheck"]["test"]
    # busybox wget: the image has no curl.
    assert check[:2] == ["CMD", "wget"] and check[-1] == "http://127.0.0.1:9090/-/healthy"


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
        assert set(services[name]["environment"]) - code - NOT_ETSTATS == set(), name


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


# Objects of the Prometheus Operator's kinds: not in Kubernetes' own schemas.
MONITORING = K8S / "monitoring"


def manifest_files() -> list[Path]:
    return sorted(
        p
        for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml"
        and MONITORING not in p.parents
        and k8s_objects(p.read_text(encoding="utf-8"))
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


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pod spec of each workload, by component (the backup job is storage's code)."""
    pods = {}
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if obj["kind"] in ("Deployment", "StatefulSet", "CronJob") and template:
            component = template["metadata"]["labels"]["app.kubernetes.io/component"]
            component = {"backup": "storage-backup"}.get(component, component)
            if obj["kind"] == "StatefulSet":
                component = obj["metadata"]["name"]
            pods[component] = template["spec"]
    return pods


def pod_secrets(pod: dict[str, Any], objects: list[dict[str, Any]]) -> set[str]:
    """Variables a pod's containers take from Secrets, or that hold secrets."""
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    names = set()
    for container in pod.get("initContainers", []) + pod["containers"]:
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "secretRef" in source:
                secret = secrets[source["secretRef"]["name"]]
                keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
                names |= {prefix + key for key in keys}
            else:
                keys = set(maps[source["configMapRef"]["name"]].get("data", {}))
                names |= {prefix + key for key in keys if is_secret(prefix + key)}
        for variable in container.get("env", []):
            if "secretKeyRef" in variable.get("valueFrom", {}) or is_secret(variable["name"]):
                names.add(variable["name"])
    return names


def test_kubernetes_gives_each_pod_only_the_secrets_it_reads() -> None:
    objects = kustomize(K8S / "overlays" / "example")
    pods = pod_specs(objects)
    reads = service_code_variables()
    assert set(SERVICES) | {"storage-backup", "nats", "postgres"} <= set(pods)
    for component, pod in pods.items():
        service = component.removesuffix("-backup")
        received = pod_secrets(pod, objects)
        assert received <= ALLOWED_SECRETS[service], component
        if service in SERVICES:
            assert received <= reads[service], f"{component} does not read these"
            assert {"NATS_USER", "NATS_PASSWORD"} <= received, component
    assert "DATABASE_URL" in pod_secrets(pods["storage-backup"], objects)
    # The SSH key files: only the fetcher mounts the Secret.
    for component, pod in pods.items():
        mounted = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        assert bool(mounted) == (component == "fetcher"), component


def test_kubernetes_nats_keeps_the_password_off_its_command_line() -> None:
    """Arguments are world-readable in /proc/<pid>/cmdline: the password comes from
    the environment, through the config file, as in deploy/nats/nats.conf."""
    objects = kustomize(K8S / "overlays" / "example")
    [nats_set] = [
        o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "nats"
    ]
    pod = nats_set["spec"]["template"]["spec"]
    [container] = pod["containers"]
    argv = container.get("command", []) + container.get("args", [])
    assert not [a for a in argv if "PASS" in a.upper() or "$(" in a], argv
    config_path = argv[argv.index("--config") + 1]
    [mount] = [m for m in container["volumeMounts"] if config_path.startswith(m["mountPath"] + "/")]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    [config_map] = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == volume["configMap"]["name"]
    ]
    conf = config_map["data"][config_path.rsplit("/", 1)[1]]
    assert conf == (K8S / "base" / "nats" / "nats.conf").read_text(encoding="utf-8")
    assert re.search(r"^\s*password: \$NATS_PASSWORD$", conf, flags=re.MULTILINE)
    env = {v["name"]: v for v in container["env"]}
    for name in ("NATS_USER", "NATS_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name


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


def test_prometheus_answers_the_compose_healthcheck(promtool: Path, tmp_path) -> None:
    """The URL the healthcheck asks for, on a real Prometheus with the compose config
    (Debian's, from the same package as promtool; the image runs a newer one)."""
    binary = promtool.with_name("prometheus")
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    port = free_port()
    url = compose()["services"]["prometheus"]["healthcheck"]["test"][-1]
    server = subprocess.Popen(
        [
            binary,
            "--config.file=prometheus.yml",
            f"--storage.tsdb.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        cwd=DEPLOY / "prometheus",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def healthy() -> bool:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            local = url.replace("127.0.0.1:9090", f"127.0.0.1:{port}")
            with urllib.request.urlopen(local, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_until_sync(healthy, within=30, what="prometheus /-/healthy")
    finally:
        server.terminate()
        server.wait(10)


def test_every_alert_has_a_unit_test_that_fires_and_one_that_stays_quiet() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "etstats.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "prometheus" / "tests" / "etstats_test.yml").read_text())
    checks = [t for case in tests["tests"] for t in case.get("alert_rule_test", [])]
    assert {t["alertname"] for t in checks if t.get("exp_alerts")} == alerts
    assert {t["alertname"] for t in checks if not t.get("exp_alerts")} == alerts


# --- Prometheus 2.42 here, 3.5 in the compose file --------------------------------------
# Debian's promtool (2.42) runs the checks; compose deploys prom/prometheus:v3.5.0,
# which no package registry reachable from the tests ships. What 3.0 changed that
# could alter the meaning of these files is checked instead:
# - range selectors are left-open: a sample exactly at the start of a range is out
#   (the alert unit tests run again with every range 1 ms shorter, which is 3.x's
#   result in 2.x);
# - `le` and `quantile` label values are normalised to floats ("1" becomes "1.0"):
#   no query matches on them;
# - holt_winters is renamed (and behind a feature flag): not used;
# - configuration fields removed or renamed: not used;
# - scrapes need a valid Content-Type: the live test below checks the services'.
# `/-/healthy` and the unit-test file format are the same in both.

PROMETHEUS_3_REMOVED = {"scrape_classic_histograms", "enable_http2", "api_version"}


def left_open(expr: str) -> str:
    """A PromQL expression whose ranges leave out their first instant (as 3.x does)."""
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

    def shorter(match: re.Match[str]) -> str:
        parts = re.findall(r"(\d+)(ms|[smhd])", match[1])
        total = sum(int(n) * units[u] for n, u in parts)
        return f"[{total - 1}ms{match[2] or ''}]"

    return re.sub(r"\[((?:\d+(?:ms|[smhd]))+)(:[^\]]*)?\]", shorter, expr)


def test_left_open_shortens_every_range_by_a_millisecond() -> None:
    assert left_open("rate(a[30m]) / deriv(b[1h30m])") == "rate(a[1799999ms]) / deriv(b[5399999ms])"
    assert left_open('x{a="[5m]"}') == 'x{a="[5m]"}'.replace("[5m]", "[299999ms]")


def test_alert_unit_tests_hold_with_prometheus_3_ranges(promtool: Path, tmp_path) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "etstats.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = left_open(rule["expr"])
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "rules" / "etstats.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(DEPLOY / "prometheus" / "tests" / "etstats_test.yml", tmp_path / "tests")
    done = run(promtool, "test", "rules", "tests/etstats_test.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_queries_and_configs_use_nothing_prometheus_3_changed() -> None:
    for where, expr in promql_queries():
        assert not re.search(r"\b(le|quantile)\s*=~?", expr), where
        assert "holt_winters" not in expr, where
    configs = [DEPLOY / "prometheus" / "prometheus.yml", MONITORING / "prometheus.yml"]
    for path in configs:
        text = path.read_text(encoding="utf-8")
        for field in PROMETHEUS_3_REMOVED:
            assert field not in text, (path, field)


# --- the job names the rules and panels select, on every platform -------------------


def relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's relabelling (keep, drop, replace), enough for the shipped configs;
    None when the target is dropped. Accepts the Operator's camelCase field names."""
    labels = dict(labels)
    for rule in rules:
        rule = {re.sub(r"([A-Z])", lambda m: "_" + m[1].lower(), k): v for k, v in rule.items()}
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(template)
    return labels


def alerted_jobs() -> set[str]:
    """The job names EtstatsServiceDown expects, one absent() each."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "etstats.yml").read_text())
    [down] = [
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "EtstatsServiceDown"
    ]
    return set(re.findall(r'absent\(up\{job="([^"]+)"\}\)', down["expr"]))


def test_the_service_down_alert_expects_every_compose_job() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]} - {"prometheus"}
    assert alerted_jobs() == jobs == {f"etstats-{name}" for name in SERVICES}


def pod_targets() -> list[dict[str, str]]:
    """What Kubernetes service discovery (role pod) says of each container port of the
    rendered example deployment: etstats' pods, the backup job, NATS and PostgreSQL."""
    targets = []
    for obj in kustomize(K8S / "overlays" / "example"):
        spec = obj.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
        if not template:
            continue
        for container in template["spec"]["containers"]:
            for port in container.get("ports", []) or [{}]:
                meta = {
                    "__meta_kubernetes_namespace": "etstats",
                    "__meta_kubernetes_pod_name": f"{obj['metadata']['name']}-x",
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                }
                for key, value in template["metadata"]["labels"].items():
                    meta["__meta_kubernetes_pod_label_" + re.sub(r"\W", "_", key)] = value
                targets.append(meta)
    return targets


def scraped_jobs(targets: list[dict[str, str]], rules: list[dict[str, Any]]) -> list[str]:
    kept = [relabel(target, rules) for target in targets]
    return sorted(labels["job"] for labels in kept if labels is not None)


def test_the_plain_kubernetes_scrape_config_names_jobs_as_the_rules_do() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    [job] = config["scrape_configs"]
    assert [sd["role"] for sd in job["kubernetes_sd_configs"]] == ["pod"]
    jobs = scraped_jobs(pod_targets(), job["relabel_configs"])
    # One target per service (the example overlay's replicas are one pod template each).
    assert jobs == sorted(alerted_jobs())


def test_the_pod_monitor_names_jobs_as_the_rules_do() -> None:
    [monitor] = k8s_objects((MONITORING / "podmonitor.yaml").read_text(encoding="utf-8"))
    assert monitor["kind"] == "PodMonitor"
    selector = monitor["spec"]["selector"]
    label = "__meta_kubernetes_pod_label_"

    def selected(target: dict[str, str]) -> bool:
        names = {label + re.sub(r"\W", "_", k): v for k, v in selector["matchLabels"].items()}
        if any(target.get(k) != v for k, v in names.items()):
            return False
        return all(
            target.get(label + re.sub(r"\W", "_", e["key"])) in e["values"]
            for e in selector["matchExpressions"]
            if e["operator"] == "In"
        )

    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    targets = [
        t
        for t in pod_targets()
        if selected(t) and t["__meta_kubernetes_pod_container_port_name"] == endpoint["port"]
    ]
    # The Operator names the job <namespace>/<monitor> before the endpoint's relabelings.
    targets = [dict(t, job=f"etstats/{monitor['metadata']['name']}") for t in targets]
    assert scraped_jobs(targets, endpoint["relabelings"]) == sorted(alerted_jobs())


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
    titles = {"Pipeline", "Sources", "Discord", "Rounds and rejections", "Community"}
    assert len(DASHBOARDS) == 5
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
    assert len(seen_uids) == 5 and seen_titles == titles


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


def test_variables_of_postgresql_are_not_taken_for_promql() -> None:
    """A SQL variable's query read as PromQL would name SELECT and FROM as metrics."""
    sql_variables = {
        f"{path.name}: ${v['name']}"
        for path, dashboard in dashboards()
        for v in dashboard.get("templating", {}).get("list", [])
        if (v.get("datasource") or {}).get("type") == "grafana-postgresql-datasource"
    }
    assert sql_variables  # the community dashboard's sources
    assert sql_variables.isdisjoint(where for where, _ in promql_queries())


def test_every_query_names_some_metric() -> None:
    queries = list(promql_queries())
    assert len(queries) > 40
    assert [where for where, expr in queries if not metric_names(expr)] == []


POSTGRES = "etstats-postgres"


async def test_dashboard_sql_runs_as_the_read_only_grafana_role(database_url: str) -> None:
    """The compose init script makes the reader; every panel's SQL runs as it, as
    Grafana sends it for a six-hour range and the variables' defaults, after
    storage's migrations and two stored rounds."""
    reader_url = await grafana_reader_url(database_url)
    owner = await asyncpg.connect(database_url)
    try:
        await migrate(owner)
        # Imported now: a round of an old evening (as a sync brings it) and one
        # played two hours ago (the stamp is the game server's clock, UTC here).
        r1, _ = generate_match(random.Random(3), datetime(2026, 11, 24, 21, 0), players=6)
        await import_round(owner, parsed(r1))
        played = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
        recent_r1, _ = generate_match(random.Random(4), played, players=6)
        await import_round(owner, parsed(recent_r1))
    finally:
        await owner.close()

    end = datetime.now(UTC)
    start = end - timedelta(hours=6)
    reader = await asyncpg.connect(reader_url)
    try:
        queries = []
        for path, dashboard in dashboards():
            variables, chosen = variables_of(dashboard), defaults_of(dashboard)
            for variable in dashboard["templating"]["list"]:
                if variable["type"] == "query" and variable["datasource"]["uid"] == POSTGRES:
                    options = tuple(r[0] for r in await reader.fetch(variable["query"]))
                    variables[variable["name"]] = replace(
                        variables[variable["name"]], options=options
                    )
            queries += [
                (where, grafana_sql(sql, start, end, variables, chosen))
                for where, sql in sql_queries(path)
            ]
        assert len(queries) >= 15
        for where, sql in queries:
            try:
                await reader.fetch(sql)
            except asyncpg.PostgresError as exc:
                raise AssertionError(f"{where}: {exc}") from None
        recent = next(sql for where, sql in queries if "Recent rounds" in where)
        assert len(await reader.fetch(recent)) == 2  # both imported now
        # By play time: the old evening's round is not in the last six hours.
        per_hour = next(sql for where, sql in queries if "Rounds per hour" in where)
        assert [r["rounds"] for r in await reader.fetch(per_hour)] == [1]
        maps = next(sql for where, sql in queries if "rounds.json: Maps played" in where)
        rows = await reader.fetch(maps)
        assert [(r["map"], r["rounds"]) for r in rows] == [(recent_r1.header.map, 1)]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("DELETE FROM rounds")
    finally:
        await reader.close()


async def test_the_grafana_role_has_a_statement_timeout(database_url: str) -> None:
    """Any viewer can have Grafana send SQL as the reader: the init script gives the
    role a statement timeout, which PostgreSQL applies to its every session (and the
    owner, storage's role, has none)."""
    reader = await asyncpg.connect(await grafana_reader_url(database_url))
    owner = await asyncpg.connect(database_url)
    try:
        timeout = await reader.fetchval("SELECT current_setting('statement_timeout')")
        assert timeout == "30s"
        assert await owner.fetchval("SELECT current_setting('statement_timeout')") == "0"
    finally:
        await reader.close()
        await owner.close()


def test_a_kubernetes_backup_on_request_is_kept_or_said_to_be_temporary() -> None:
    """`!backup` writes into storage's BACKUP_DIR: on the backup job's volume it lasts;
    anywhere else in the pod it is lost with the pod, and the answer must say so."""
    objects = kustomize(K8S / "overlays" / "example")
    pods = pod_specs(objects)
    [storage] = pods["storage"]["containers"]
    env = {v["name"]: v.get("value") for v in storage["env"]}
    lasting = {
        m["mountPath"]
        for m in storage.get("volumeMounts", [])
        for v in pods["storage"]["volumes"]
        if v["name"] == m["name"] and "persistentVolumeClaim" in v
    }
    kept = any(env["BACKUP_DIR"].startswith(path + "/") for path in lasting)
    assert kept or env.get("BACKUP_DIR_TEMPORARY") == "true"
