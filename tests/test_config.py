import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from etstats_cli.embedded import free_port
from services.common.config import CommonConfig, ConfigError, Env
from tests.waiting import wait_until_sync


@pytest.mark.unit
def test_defaults_are_sane() -> None:
    cfg = CommonConfig.from_env("fetcher", Env({}))
    assert cfg.nats_url == "nats://127.0.0.1:4222"
    assert cfg.http_port == 8081
    assert cfg.stream == "STATS"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HTTP_PORT": "abc"}, "HTTP_PORT='abc' is not a whole number"),
        ({"HTTP_PORT": "70000"}, "HTTP_PORT=70000 is too large"),
        ({"NATS_URL": "http://x"}, "NATS_URL='http://x' is invalid"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is invalid"),
        ({"MAX_FILE_BYTES": "10"}, "MAX_FILE_BYTES=10 is too small"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        CommonConfig.from_env("parser", Env(environ))


@pytest.mark.unit
def test_required_variable() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is required but not set"):
        Env({}).str("DATABASE_URL")


@pytest.mark.unit
def test_secret_from_file(tmp_path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    assert Env({"DISCORD_TOKEN_FILE": str(secret)}).str("DISCORD_TOKEN") == "s3cret"
    with pytest.raises(ConfigError, match="both set"):
        Env({"DISCORD_TOKEN": "a", "DISCORD_TOKEN_FILE": str(secret)}).str("DISCORD_TOKEN")
    with pytest.raises(ConfigError, match="cannot read") as excinfo:
        Env({"DISCORD_TOKEN_FILE": str(tmp_path / "missing")}).str("DISCORD_TOKEN")
    assert "s3cret" not in str(excinfo.value)


@pytest.mark.unit
@pytest.mark.parametrize(("text", "value"), [("yes", True), ("FALSE", False), ("1", True)])
def test_bool(text: str, value: bool) -> None:
    assert Env({"X": text}).bool("X", not value) is value


@pytest.mark.unit
def test_bool_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="X='maybe' is not a yes/no value"):
        Env({"X": "maybe"}).bool("X", True)


@pytest.mark.service
@pytest.mark.parametrize(
    ("service", "environ", "named"),
    [
        ("parser", {"HTTP_PORT": "abc"}, "HTTP_PORT"),
        ("storage", {}, "DATABASE_URL"),
        ("bot", {"STALL_AFTER": "1s"}, "STALL_AFTER"),
        ("fetcher", {"POLL_INTERVAL": "fast"}, "POLL_INTERVAL"),
    ],
)
def test_service_stops_with_one_line_naming_the_variable(
    service: str, environ: dict[str, str], named: str
) -> None:
    env = {"PATH": "/usr/bin:/bin", **environ}
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert named in lines[0]
    assert lines[0].startswith(f"etstats {service}: configuration error:")


def probe(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@pytest.mark.service
def test_the_bot_without_a_token_waits_alive_and_not_ready(nats_server, tmp_path) -> None:
    """Compose starts every service: a bot left without DISCORD_TOKEN must not
    crash-loop (nor trip the down alert). One line says why it waits."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "NATS_URL": nats_server.url, "HTTP_PORT": str(port)}
    log = tmp_path / "bot.log"
    with log.open("w") as out:
        bot = subprocess.Popen(
            [sys.executable, "-m", "services.bot"], env=env, stdout=out, stderr=out, text=True
        )
    try:
        wait_until_sync(
            lambda: bot.poll() is not None or probe(port, "/readyz")[0] == 503,
            within=30,
            what="the bot's probes",
        )
        assert bot.poll() is None, log.read_text()
        assert probe(port, "/healthz")[0] == 200
        status, body = probe(port, "/readyz")
        ready = json.loads(body)
        assert status == 503 and ready["checks"] == {"nats": True, "discord": False}, ready
        assert probe(port, "/metrics")[0] == 200  # scraped: `up` is 1
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    said = [line for line in log.read_text().splitlines() if "DISCORD_TOKEN" in line]
    assert len(said) == 1 and "set DISCORD_TOKEN and restart" in said[0], said
