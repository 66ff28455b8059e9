import subprocess
import sys

import pytest

from services.common.config import CommonConfig, ConfigError, Env


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
        ("bot", {}, "DISCORD_TOKEN"),
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
