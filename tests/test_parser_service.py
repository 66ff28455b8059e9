"""The parser service against a real nats-server: raw files in, rounds or rejections out."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from prometheus_client import REGISTRY

from etstats.contract import common_pb2, files_pb2, rounds_pb2
from etstats.statsfile.generator import generate_match
from services.common.bus import Bus
from services.parser.service import ParserConfig, main
from tests.inprocess import running

pytestmark = pytest.mark.service


def raw(filename: str, body: bytes) -> files_pb2.RawFile:
    ref = common_pb2.FileRef(
        source="main",
        filename=filename,
        sha256="00",
        msg_id=f"main/{filename}/00",
        origin=common_pb2.ORIGIN_MONITOR,
    )
    return files_pb2.RawFile(file=ref, size=len(body), body=body)


async def next_message(bus: Bus, subject: str, durable: str):
    sub = await bus.js.pull_subscribe(subject, durable=durable, stream=bus.stream)
    (msg,) = await sub.fetch(1, timeout=10)
    await msg.ack()
    return msg


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_good_file_is_parsed_and_bad_one_rejected(nats_server, bus: Bus) -> None:
    r1, _ = generate_match(random.Random(11), datetime(2026, 11, 24, 20), players=6)
    parsed_before = sample("etstats_parser_files_parsed_total", source="main")
    rejected_before = sample("etstats_rejections_total", stage="parser", reason="header")
    await bus.publish("stats.raw.main", raw(r1.filename, r1.body).SerializeToString(), "a")
    bad = "2026-11-24-201443-supply-round-1.txt"
    await bus.publish("stats.raw.main", raw(bad, b"no\\header\n").SerializeToString(), "b")

    async with running("parser", main, ParserConfig(batch=8), nats_server.url):
        parsed_msg = await next_message(bus, "stats.parsed.main", "check-parsed")
        rejected_msg = await next_message(bus, "stats.rejected.main", "check-rejected")

    parsed = rounds_pb2.ParsedRound.FromString(parsed_msg.data)
    assert parsed_msg.headers["Nats-Msg-Id"] == "parsed:" + parsed.file.msg_id
    assert parsed.file.filename == r1.filename
    assert parsed.header.map == r1.header.map
    assert len(parsed.players) == 6
    assert sorted(p.kills for p in parsed.players) == sorted(p.kills for p in r1.players)
    rejection = files_pb2.Rejection.FromString(rejected_msg.data)
    assert rejection.file.filename == bad
    assert rejection.reason == "line 1: header has 2 fields, expected 8 or 9"
    assert sample("etstats_parser_files_parsed_total", source="main") == parsed_before + 1
    assert sample("etstats_rejections_total", stage="parser", reason="header") == (
        rejected_before + 1
    )
