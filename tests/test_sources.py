from pathlib import Path

import pytest
import yaml

from services.common.config import ConfigError, Env
from services.common.sources import load_sources, parse_sources
from services.fetcher.service import FetcherConfig
from services.poster.service import PosterConfig

pytestmark = pytest.mark.unit


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "key"
    known = tmp_path / "known_hosts"
    key.write_text("k")
    known.write_text("h")
    return {"key_file": str(key), "known_hosts_file": str(known)}


def ssh(secrets: dict[str, str], **over: object) -> dict[str, object]:
    return {"host": "203.0.113.5", "user": "et", "path": "/home/et/gamestats", **secrets, **over}


def test_full_example(secrets) -> None:
    doc = {
        "sources": [
            {
                "name": "main",
                "ssh": ssh(secrets, port=2222),
                "round_channel_id": "123456789012345678",
            },
            {"name": "local", "dir": "./var/gamestats"},
        ]
    }
    main, local = parse_sources(doc, "sources.yaml")
    assert main.ssh is not None and main.ssh.port == 2222
    assert main.round_channel_id == "123456789012345678"
    assert main.where == "et@203.0.113.5:2222/home/et/gamestats"
    assert local.dir == Path("./var/gamestats") and local.ssh is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"name": "Main!", "dir": "x"}, "source #1: name 'Main!' must match"),
        ({"name": "a", "dir": "x", "ssh": {}}, "source 'a': give exactly one of 'ssh' or 'dir'"),
        ({"name": "a"}, "source 'a': give exactly one of 'ssh' or 'dir'"),
        ({"name": "a", "dir": "x", "colour": 1}, "source 'a': unknown key 'colour'"),
        ({"name": "a", "dir": "x", "round_channel_id": "general"}, "is not a Discord channel id"),
        ({"name": "a", "ssh": "host"}, "source 'a': ssh must be a mapping"),
    ],
)
def test_errors_name_source_and_key(source: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sources({"sources": [source]}, "sources.yaml")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"host": ""}, "source 'a': ssh.host is required"),
        ({"port": 70000}, "ssh.port 70000 is not a port number"),
        ({"path": "rel/dir"}, "ssh.path 'rel/dir' must be absolute"),
        ({"strict": False}, "unknown key 'ssh.strict'"),
    ],
)
def test_ssh_errors(secrets, over: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sources({"sources": [{"name": "a", "ssh": ssh(secrets, **over)}]}, "sources.yaml")


def test_duplicate_names() -> None:
    doc = {"sources": [{"name": "a", "dir": "x"}, {"name": "a", "dir": "y"}]}
    with pytest.raises(ConfigError, match="source 'a': the name is used twice"):
        parse_sources(doc, "s.yaml")


def test_without_a_file_the_local_directory_is_watched(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (source,) = load_sources(Env({}))
    assert (source.name, source.dir) == ("local", Path("./var/gamestats"))
    with pytest.raises(ConfigError, match=r"SOURCES_FILE=missing\.yaml: no such file"):
        load_sources(Env({"SOURCES_FILE": "missing.yaml"}))


def test_file_is_read_and_bad_yaml_named(tmp_path: Path) -> None:
    good = tmp_path / "s.yaml"
    good.write_text(yaml.safe_dump({"sources": [{"name": "box", "dir": "/srv/stats"}]}))
    assert load_sources(Env({"SOURCES_FILE": str(good)}))[0].name == "box"
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n")
    with pytest.raises(ConfigError, match=f"SOURCES_FILE={bad}: not valid YAML"):
        load_sources(Env({"SOURCES_FILE": str(bad)}))


def test_only_the_fetcher_needs_the_key_files(tmp_path: Path, secrets) -> None:
    """The poster reads sources.yaml for channels, without the fetcher's SSH keys."""
    doc = {"sources": [{"name": "a", "ssh": ssh(secrets, key_file="/nonexistent/key")}]}
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = Env({"SOURCES_FILE": str(path)})
    assert PosterConfig.from_env(env).sources[0].name == "a"
    with pytest.raises(ConfigError, match=r"ssh\.key_file /nonexistent/key is not a readable file"):
        FetcherConfig.from_env(env)


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604])
def test_a_key_others_may_read_is_refused_with_the_fix(tmp_path: Path, secrets, mode) -> None:
    """As OpenSSH refuses it ("UNPROTECTED PRIVATE KEY FILE")."""
    doc = {"sources": [{"name": "a", "ssh": ssh(secrets)}]}
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(doc))
    key = Path(secrets["key_file"])
    env = Env({"SOURCES_FILE": str(path)})
    key.chmod(0o600)
    assert FetcherConfig.from_env(env).sources[0].name == "a"
    key.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        FetcherConfig.from_env(env)
    assert str(refused.value) == (
        f"source 'a': ssh.key_file {key} is open to others (mode {mode:04o}), so OpenSSH"
        f" would refuse it too; run `chmod 600 {key}`"
    )
