"""Real servers for the tests: a nats-server per test, one PostgreSQL per run.

Each test gets its own NATS (so streams never collide) and its own database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.common.bus import Bus, connect
from services.common.config import CommonConfig, Env


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
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    connected = await connect(common_config("parser", nats_server.url), asyncio.Event())
    assert connected is not None
    yield connected
    await connected.close()
