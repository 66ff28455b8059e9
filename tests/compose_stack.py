"""`make compose-test`: the compose deployment for real, on a Docker engine.

Builds the image, starts the stack of docker-compose.yml as the README's quick
start sets it up (a key made by ssh-keygen, known_hosts, sources.yaml) with a
test SFTP game server and the fake Discord beside it, drops a round on the game
server and sees it stored and posted, scales the parser to 2 (Prometheus finds
both), stops and starts the stack (the data stays, the next round comes in),
and tears it all down. Grafana is left out where its image cannot run.

Needs Docker and the images the compose file names (or stand-ins under the same
names); not part of `make test`. Runs with Compose v2, or with Compose v1 on a
copy of the file without the two v2-only keys (`name:`, `create_host_path`).
"""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "etstats-compose-test"
IMAGE = "etstats:local"
SFTP_IMAGE = "etstats-fixture/sshd:bookworm"
CHANNEL = "111111111111111111"
# What the stack is made of here: every service but Grafana, the game server and Discord.
SERVICES = ["nats", "postgres", "ssh-keys", "fetcher", "parser", "storage", "poster", "bot"]
SERVICES += ["prometheus", "gameserver", "fake-discord"]
# What the project directory needs: the build context, the compose file and deploy/
COPIED = ["Dockerfile", ".dockerignore", "pyproject.toml", "constraints.txt", "README.md"]
COPIED += ["docker-compose.yml", "etstats", "services", "etstats_cli", "deploy"]

# The fake Discord of the tests, listening on the compose network; it writes what
# it was sent to /out/messages.json for this script to read.
FAKE_DISCORD = """
import asyncio, json
from aiohttp import web
import tests.fake_discord as fake_discord

site = web.TCPSite
fake_discord.web.TCPSite = lambda runner, host, port: site(runner, "0.0.0.0", 8000)
answer = fake_discord._json

def on_the_network(data, status=200, headers=None):
    # The gateway's address as the other containers reach it.
    if isinstance(data, dict) and str(data.get("url", "")).startswith("ws://127.0.0.1"):
        data = dict(data, url="ws://fake-discord:8000/ws")
    return answer(data, status, headers)

fake_discord._json = on_the_network

async def main():
    discord = await fake_discord.FakeDiscord().start()
    while True:
        with open("/out/messages.json.new", "w") as out:
            json.dump(discord.message_payloads, out)
        import os; os.replace("/out/messages.json.new", "/out/messages.json")
        await asyncio.sleep(0.5)

asyncio.run(main())
"""


def say(text: str) -> None:
    print(f"compose-test: {text}", flush=True)


def run(*args: str | Path, cwd: Path | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    if check and done.returncode != 0:
        raise SystemExit(f"compose-test: {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done.stdout


def compose_command() -> tuple[list[str], bool]:
    """`docker compose` (v2) if there, else `docker-compose` (v1); and whether v2."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"], True
    if shutil.which("docker-compose"):
        return ["docker-compose"], False
    raise SystemExit("compose-test: neither `docker compose` nor `docker-compose` is installed")


def v1_compatible(text: str) -> str:
    """The compose file without what Compose v1 refuses (the project is named by -p)."""
    config = yaml.safe_load(text)
    config.pop("name", None)
    for service in config["services"].values():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                volume.get("bind", {}).pop("create_host_path", None)
                if volume.get("bind") == {}:
                    del volume["bind"]
    return yaml.safe_dump(config, sort_keys=False)


def wait_for(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"compose-test: not seen within {within:.0f}s: {what}")
        time.sleep(1)


class Stack:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.command, self.v2 = compose_command()
        self.prometheus_port = free_port()

    def compose(self, *args: str, check: bool = True) -> str:
        files = ["-f", "docker-compose.yml", "-f", "docker-compose.test.yml"]
        return run(*self.command, "-p", PROJECT, *files, *args, cwd=self.work, check=check)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def healthy(self, service: str, replicas: int = 1) -> Callable[[], bool]:
        def check() -> bool:
            ids = self.containers(service)
            if len(ids) != replicas:
                return False
            states = run("docker", "inspect", "-f", "{{.State.Health.Status}}", *ids).split()
            return states == ["healthy"] * replicas

        return check

    def sql(self, query: str) -> str:
        args = ["exec", "-T", "postgres", "psql", "-U", "etstats", "-d", "etstats", "-tAc", query]
        return self.compose(*args).strip()

    def posts(self) -> list[dict[str, Any]]:
        path = self.work / "discord" / "messages.json"
        return json.loads(path.read_text()) if path.exists() else []

    def prometheus(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/query?query="
        try:
            with urllib.request.urlopen(url + urllib.parse.quote(expr), timeout=5) as answer:
                return list(json.loads(answer.read())["data"]["result"])
        except OSError:
            return []


def lay_out(work: Path, stack: Stack) -> None:
    """The project as the README's quick start leaves it, plus the test's own parts."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, work / name)
    if not stack.v2:
        compose_file = work / "docker-compose.yml"
        compose_file.write_text(v1_compatible(compose_file.read_text()))
    (work / ".env").write_text(
        "\n".join(
            [
                "NATS_USER=etstats",
                "NATS_PASSWORD=nats-test-password",
                "POSTGRES_PASSWORD=postgres-test-password",
                "GRAFANA_DB_PASSWORD=grafana-test-password",
                "GRAFANA_ADMIN_PASSWORD=admin-test-password",
                "DISCORD_TOKEN=test-token",
                "DISCORD_API_BASE=http://fake-discord:8000/api/v10",
                f"DISCORD_ROUND_CHANNEL_ID={CHANNEL}",
                f"PROMETHEUS_PORT={stack.prometheus_port}",
                f"GRAFANA_PORT={free_port()}",
                "POLL_INTERVAL=1",
                "",
            ]
        )
    )
    # The README's steps: a key as ssh-keygen makes it (0600, the deployer's), and
    # the game server's host key in known_hosts.
    (work / "ssh").mkdir()
    (work / "gamestats").mkdir()
    keys = work / "gameserver-keys"
    keys.mkdir()
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", work / "ssh" / "id_ed25519")
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys / "ssh_host_ed25519_key")
    shutil.copy(work / "ssh" / "id_ed25519.pub", keys / "authorized_keys")
    host_key = (keys / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    (work / "ssh" / "known_hosts").write_text(f"gameserver {' '.join(host_key)}\n")
    files = work / "served"
    files.mkdir()
    files.chmod(0o777)
    (work / "sources.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {
                        "name": "game",
                        "ssh": {
                            "host": "gameserver",
                            "port": 22,
                            "user": "et",
                            "key_file": "/etc/etstats/ssh/id_ed25519",
                            "known_hosts_file": "/etc/etstats/ssh/known_hosts",
                            "path": "/home/et/gamestats",
                        },
                    }
                ]
            }
        )
    )
    (work / "discord").mkdir()
    (work / "fake_discord_server.py").write_text(FAKE_DISCORD)
    test_services = {
        "gameserver": {
            "image": SFTP_IMAGE,
            "volumes": ["./gameserver-keys:/keys:ro", "./served:/home/et/gamestats"],
        },
        "fake-discord": {
            "image": f"${{ETSTATS_IMAGE:-{IMAGE}}}",
            "user": "0:0",
            "working_dir": "/test",
            "command": ["python", "/test/fake_discord_server.py"],
            "healthcheck": {"disable": True},
            "volumes": [
                f"{ROOT / 'tests'}:/test/tests:ro",
                "./fake_discord_server.py:/test/fake_discord_server.py:ro",
                "./discord:/out",
            ],
        },
    }
    override: dict[str, Any] = {"services": test_services}
    if not stack.v2:
        override["version"] = "3.9"  # v1 wants the two files to agree
    (work / "docker-compose.test.yml").write_text(yaml.safe_dump(override))


def drop_round(work: Path, seed: int, when: datetime) -> str:
    r1, _ = generate_match(random.Random(seed), when, players=6)
    target = work / "served" / r1.filename
    target.write_bytes(r1.body)
    target.chmod(0o644)
    return r1.filename


def stored_and_posted(stack: Stack, filename: str) -> None:
    query = f"SELECT status FROM files WHERE filename = '{filename}'"
    wait_for(lambda: stack.sql(query) == "imported", 120, f"{filename} stored")
    stamp = datetime.strptime(filename[:17], "%Y-%m-%d-%H%M%S")
    wait_for(
        lambda: any(str(stamp) in json.dumps(post) for post in stack.posts()),
        60,
        f"{filename} posted to the fake Discord",
    )


@contextmanager
def workspace() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="etstats-compose-test-"))
    work.chmod(0o755)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    with workspace() as work:
        stack = Stack(work)
        say(f"{' '.join(stack.command)} ({'v2' if stack.v2 else 'v1'}), project in {work}")
        lay_out(work, stack)
        say("docker build")
        # The build reaches the package index; containers at run time reach nothing
        # outside. DOCKER_BUILD_ARGS adds options (`--add-host NAME:IP` where the
        # engine gives containers no DNS).
        extra = shlex.split(os.environ.get("DOCKER_BUILD_ARGS", ""))
        run("docker", "build", "--network", "host", *extra, "-t", IMAGE, ".", cwd=work)
        try:
            say("up")
            stack.compose("up", "-d", "--no-build", *SERVICES)
            for service in ("fetcher", "parser", "storage", "poster", "bot"):
                wait_for(stack.healthy(service), 120, f"{service} healthy")
            first = drop_round(work, 1, datetime.now() - timedelta(minutes=30))
            stored_and_posted(stack, first)
            say(f"{first}: stored and posted")

            # pg_dump and pg_restore of the image against the stack's PostgreSQL.
            made = stack.compose("exec", "-T", "storage", "etstats", "backup").strip()
            dump = made.split()[2].rstrip(":")
            assert made.startswith("Backup written: etstats-"), made
            listed = stack.compose(
                "exec", "-T", "storage", "pg_restore", "--list", f"/var/lib/etstats/backups/{dump}"
            )
            assert "TABLE DATA public rounds" in listed, listed[:500]
            say(f"{dump}: written by pg_dump, read by pg_restore")

            stack.compose(
                "up", "-d", "--no-build", "--no-recreate", "--scale", "parser=2", "parser"
            )
            wait_for(stack.healthy("parser", 2), 120, "two healthy parsers")
            wait_for(
                lambda: len(stack.prometheus('up{job="etstats-parser"} == 1')) == 2,
                90,
                "Prometheus scraping both parsers",
            )
            say("parser scaled to 2, both scraped")

            stack.compose("stop")
            stack.compose("start")
            for service in ("fetcher", "parser", "storage", "poster"):
                replicas = 2 if service == "parser" else 1
                wait_for(stack.healthy(service, replicas), 120, f"{service} again")
            second = drop_round(work, 2, datetime.now() - timedelta(minutes=10))
            stored_and_posted(stack, second)
            assert stack.sql("SELECT count(*) FROM rounds") == "2", "the first round kept"
            say("stopped and started: data kept, the next round stored and posted")
        except BaseException:
            print(stack.compose("logs", "--no-color", "--tail", "40", check=False), file=sys.stderr)
            raise
        finally:
            say("down")
            stack.compose("down", "-v", "--remove-orphans", check=False)
    say("passed")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
