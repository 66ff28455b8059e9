"""Real servers for the tests: a nats-server per test, one PostgreSQL per run.

Each test gets its own NATS (so streams never collide) and its own database.

Also the rules of the suite: every test has exactly one tier marker (unit,
service, e2e, deploy; `make test-fast` trusts it), and under CI a test may be
skipped only for a reason CI accepts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.common.bus import Bus, connect
from services.common.config import CommonConfig, Env
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord
from tests.inprocess import running
from tests.sshservers import SshServer, start_asyncssh

TIERS = ("unit", "service", "e2e", "deploy")

# Fixtures that start a server or a process: a test using one is not a unit test.
SERVER_FIXTURES = frozenset(
    {
        "nats_server",
        "postgres",
        "database_url",
        "db",
        "bus",
        "pipeline",
        "ssh_server",
        "asyncssh_server",
        "sshd_missing",
        "discord",
        "stack",
        "promtool",
    }
)

# Skip reasons CI accepts (exact text). A skip hides a check, so CI fails on
# any other: install what the test needs instead of adding to this list.
CI_ALLOWED_SKIPS: frozenset[str] = frozenset()

_skips: list[tuple[str, str]] = []


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads the option
def pytest_configure(config: pytest.Config) -> None:
    """A temp base of this run's own, outside the shared `pytest-of-<user>`.

    Tests run as root start PostgreSQL as the `pgserver` user, which needs its
    way into the data directory; every pytest that starts resets the shared
    directory to mode 0700, so a second `make test` would lock the first out.
    """
    if config.option.basetemp is None:
        config.option.basetemp = str(Path(tempfile.mkdtemp(prefix="etstats-tests-")) / "run")


def pytest_unconfigure(config: pytest.Config) -> None:
    base = Path(config.option.basetemp or "")
    if base.parent.name.startswith("etstats-tests-"):
        shutil.rmtree(base.parent, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects, so `-m unit` checks every test too
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse the run if a test has no tier, several, or claims `unit` but uses a server."""
    problems = []
    for item in items:
        uses_server = bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
        tiers = sorted({m.name for m in item.iter_markers() if m.name in TIERS})
        if len(tiers) != 1:
            problems.append(f"{item.nodeid}: tiers {tiers or 'none'}; it needs one of {TIERS}")
        elif tiers == ["unit"] and uses_server:
            problems.append(f"{item.nodeid}: marked unit but starts a server or process")
    if problems:
        raise pytest.UsageError("tests without a (true) tier marker:\n  " + "\n  ".join(problems))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skips.append((report.nodeid, reason.removeprefix("Skipped: ")))


def _refused_skips() -> list[tuple[str, str]]:
    if not os.environ.get("CI"):
        return []
    return [(nodeid, why) for nodeid, why in _skips if why not in CI_ALLOWED_SKIPS]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a skip whose reason is not allowed fails the run like a failed test."""
    if _refused_skips() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if refused := _refused_skips():
        terminalreporter.write_sep("=", "skips CI does not accept (CI is set)", red=True)
        for nodeid, why in refused:
            terminalreporter.write_line(f"{nodeid}: {why}")
        terminalreporter.write_line(
            "Make the test's tool available (or, if CI truly cannot run it, add the exact "
            "reason to CI_ALLOWED_SKIPS in tests/conftest.py)."
        )


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> str:
    """A fresh, empty database for one test."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def common_config(service: str, nats_url: str) -> CommonConfig:
    return CommonConfig.from_env(service, Env({"NATS_URL": nats_url, "HTTP_PORT": "0"}))


@pytest.fixture
async def pipeline(nats_server: EmbeddedNats, database_url: str) -> AsyncIterator[None]:
    """Storage and parser running and ready: a fetcher asks storage what is known."""
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url),
        running("parser", parser_main, ParserConfig(batch=16), nats_server.url),
    ):
        yield


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    """A fake Discord, as strict as Discord (tests/fake_discord.py)."""
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    connected = await connect(common_config("parser", nats_server.url), asyncio.Event())
    assert connected is not None
    yield connected
    await connected.close()


@pytest.fixture
async def asyncssh_server(tmp_path: Path) -> AsyncIterator[SshServer]:
    """An SFTP server in-process (asyncssh) serving a fresh stats directory."""
    server = await start_asyncssh(tmp_path)
    yield server
    server.close()
