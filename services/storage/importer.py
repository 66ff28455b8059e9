"""Import parsed rounds: a batch per transaction, a few statements per batch,
idempotent per file."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from etstats.contract import common_pb2, files_pb2, rounds_pb2
from etstats.contract.rounds import header_from_message, player_from_message
from etstats.statsfile import Header, Player
from etstats.statsfile.pairing import RoundRef, pair_rounds
from etstats.statsfile.stopwatch import map_result
from services.storage.db import Conn
from services.storage.pairing import (
    Neighbour,
    RoundValues,
    link_matches,
    lock_maps,
    neighbours,
    repair_changed,
    round_values,
    stored_pairing,
)
from services.storage.stored import Pairing, bare_stored, build_stored

ORIGIN_NAMES = {
    common_pb2.ORIGIN_MONITOR: "monitor",
    common_pb2.ORIGIN_SYNC: "sync",
    common_pb2.ORIGIN_CATCH_UP: "catch-up",
}


class Outcome(enum.Enum):
    IMPORTED = "imported"
    REDELIVERED = "redelivered"  # this very file was imported before
    DUPLICATE = "duplicate"  # same payload already imported under another name


@dataclass(frozen=True)
class ImportResult:
    outcome: Outcome
    round_id: int | None
    file_id: int
    stored: rounds_pb2.StoredRound | None = None  # built in memory for a fresh import
    repaired: tuple[int, ...] = ()  # stored round 2s whose round 1 this round changed


class Raced(Exception):
    """Other writers kept taking the batch's file names or payloads meanwhile."""


RACE_ATTEMPTS = 5


async def import_round(conn: Conn, parsed: rounds_pb2.ParsedRound) -> ImportResult:
    """Store a parsed round exactly once, keyed on (source, filename)."""
    return (await import_batch(conn, [parsed]))[0]


async def import_batch(conn: Conn, batch: Sequence[rounds_pb2.ParsedRound]) -> list[ImportResult]:
    """Store parsed rounds exactly once each, in one transaction of a handful of
    statements whatever the batch's size; one result per round, in order.

    Pairing is settled for every map the batch touches, with the batch's own
    rounds and the stored ones around them, so the outcome is the same as
    importing the rounds one by one, in any order."""
    for _ in range(RACE_ATTEMPTS):
        try:
            async with conn.transaction():
                return await _import(conn, batch)
        except asyncpg.UniqueViolationError:
            # A rejection recorded (or a file imported) between our look and our
            # COPY: rolled back; the next look sees it.
            continue
    raise Raced(f"the batch's files kept being written by others ({len(batch)} files)")


@dataclass
class _Fresh:
    """A round the batch stores."""

    index: int  # in the batch
    parsed: rounds_pb2.ParsedRound
    file_id: int
    stamp: datetime
    header: Header
    players: list[Player]
    round_id: int = 0
    values: RoundValues | None = None
    flags: rounds_pb2.RoundFlags | None = None
    repaired: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        return self.parsed.file.filename


async def _import(conn: Conn, batch: Sequence[rounds_pb2.ParsedRound]) -> list[ImportResult]:
    await lock_maps(conn, {(p.file.source, p.header.map) for p in batch})
    await conn.execute(
        "INSERT INTO sources (name) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [p.file.source for p in batch],
    )
    results: list[ImportResult | None] = [None] * len(batch)
    first_of: dict[tuple[str, str], int] = {}  # (source, filename) -> its index in the batch
    again: dict[int, int] = {}  # a file twice in the batch: index -> its first index
    existing = await _existing_files(conn, batch)
    for i, p in enumerate(batch):
        key = (p.file.source, p.file.filename)
        row = existing.get(key)
        if row is not None and row["status"] != "rejected":
            results[i] = ImportResult(Outcome.REDELIVERED, row["round_id"], row["id"])
        elif key in first_of:
            again[i] = first_of[key]
        else:
            first_of[key] = i
    rejected = [r["id"] for r in existing.values() if r["status"] == "rejected"]
    if rejected:  # they parse now (a fixed file or parser): the rejections are history
        await conn.execute("DELETE FROM files WHERE id = ANY($1::bigint[])", rejected)
    new = sorted(first_of.values())
    file_ids = dict(zip(new, await _next_ids(conn, "files", len(new)), strict=True))
    # The first file of each payload is imported; later ones are its duplicates.
    firsts = await _imported_payloads(conn, [batch[i] for i in new])
    duplicate_of: dict[int, int] = {}
    fresh: list[_Fresh] = []
    for i in new:
        p = batch[i]
        payload = (p.file.source, p.payload_sha256)
        if payload in firsts:
            duplicate_of[i] = firsts[payload]
            continue
        firsts[payload] = file_ids[i]
        header = header_from_message(p.header, p.flags.partial)
        stamp = datetime.strptime(p.stamp, "%Y-%m-%d %H:%M:%S")
        players = [player_from_message(m) for m in p.players]
        fresh.append(_Fresh(i, p, file_ids[i], stamp, header, players))
    await conn.copy_records_to_table(
        "files", columns=FILE_COLUMNS, records=_file_records(batch, file_ids, duplicate_of)
    )
    for f, round_id in zip(fresh, await _next_ids(conn, "rounds", len(fresh)), strict=True):
        f.round_id = round_id
    settled = await _pair(conn, fresh)
    await conn.copy_records_to_table("rounds", columns=ROUND_COLUMNS, records=_round_records(fresh))
    await conn.copy_records_to_table(
        "player_rounds", columns=PLAYER_COLUMNS, records=_player_records(fresh)
    )
    await conn.copy_records_to_table(
        "weapon_rounds", columns=WEAPON_COLUMNS, records=_weapon_records(fresh)
    )
    await _upsert_players(conn, fresh)
    await link_matches(
        conn,
        [
            (f.parsed.file.source, f.header.map, f.round_id, f.values.pairing)
            for f in fresh
            if f.values is not None and f.values.pairing is not None
        ],
    )
    for f, known, pairs, ids in settled:  # stored round 2s whose round 1 changed
        f.repaired = tuple(await repair_changed(conn, known, pairs, ids))
    round_of = await _rounds_of_files(conn, sorted(set(duplicate_of.values())))
    round_of.update({f.file_id: f.round_id for f in fresh})
    for i, first in duplicate_of.items():
        results[i] = ImportResult(Outcome.DUPLICATE, round_of.get(first), file_ids[i])
    for f in fresh:
        results[f.index] = ImportResult(
            Outcome.IMPORTED, f.round_id, f.file_id, _stored(f), f.repaired
        )
    for i, first in again.items():
        earlier = results[first]
        assert earlier is not None
        results[i] = ImportResult(Outcome.REDELIVERED, earlier.round_id, earlier.file_id)
    return [r for r in results if r is not None]


async def _existing_files(
    conn: Conn, batch: Sequence[rounds_pb2.ParsedRound]
) -> dict[tuple[str, str], asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT f.source, f.filename, f.id, f.status, coalesce(r.id, d.id) AS round_id"
        " FROM unnest($1::text[], $2::text[]) AS k(source, filename)"
        " JOIN files f ON f.source = k.source AND f.filename = k.filename"
        " LEFT JOIN rounds r ON r.file_id = f.id"
        " LEFT JOIN rounds d ON d.file_id = f.duplicate_of",
        [p.file.source for p in batch],
        [p.file.filename for p in batch],
    )
    return {(r["source"], r["filename"]): r for r in rows}


async def _imported_payloads(
    conn: Conn, batch: Sequence[rounds_pb2.ParsedRound]
) -> dict[tuple[str, str], int]:
    """(source, payload) -> the stored file imported with that payload."""
    rows = await conn.fetch(
        "SELECT f.source, f.payload_sha256, f.id"
        " FROM unnest($1::text[], $2::text[]) AS k(source, payload)"
        " JOIN files f ON f.source = k.source AND f.payload_sha256 = k.payload"
        " WHERE f.status = 'imported'",
        [p.file.source for p in batch],
        [p.payload_sha256 for p in batch],
    )
    return {(r["source"], r["payload_sha256"]): r["id"] for r in rows}


async def _rounds_of_files(conn: Conn, file_ids: list[int]) -> dict[int, int]:
    if not file_ids:
        return {}
    rows = await conn.fetch(
        "SELECT file_id, id FROM rounds WHERE file_id = ANY($1::bigint[])", file_ids
    )
    return {r["file_id"]: r["id"] for r in rows}


async def _next_ids(conn: Conn, table: str, count: int) -> list[int]:
    """Ids for rows about to be copied in (COPY cannot return them)."""
    if not count:
        return []
    rows = await conn.fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id"
        " FROM generate_series(1, $1)",
        count,
    )
    return [r["id"] for r in rows]


async def _pair(
    conn: Conn, fresh: list[_Fresh]
) -> list[tuple[_Fresh, list[Neighbour], dict[str, str | None], dict[str, int]]]:
    """Settle pairing for every map of the batch and set each fresh round's
    values and flags. Returns, per map, what `repair_changed` needs for the
    stored round 2s around the batch's rounds (once those are stored)."""
    by_map: dict[tuple[str, str], list[_Fresh]] = {}
    for f in fresh:
        by_map.setdefault((f.parsed.file.source, f.header.map), []).append(f)
    settled = []
    for (source, map_name), group in sorted(by_map.items()):
        low, high = min(f.stamp for f in group), max(f.stamp for f in group)
        known = await neighbours(conn, source, map_name, low, high)
        refs = [RoundRef.of(f.key, f.header, f.stamp) for f in group]
        pairs = pair_rounds([*(n.ref for n in known), *refs])
        ids = {n.ref.key: n.round_id for n in known} | {f.key: f.round_id for f in group}
        mine = {f.key: f for f in group}
        for f in group:
            r1 = pairs.get(f.key)
            pairing = None
            if f.header.round == 2 and not f.header.shutdown_path and r1 is not None:
                if r1 in mine:  # a round 1 of this batch: its file values are at hand
                    first = mine[r1]
                    result = map_result(first.header, f.header)
                    pairing = Pairing(first.round_id, r1, _by_weapon(first.players), result)
                else:
                    pairing = await stored_pairing(conn, ids[r1], f.header)
            f.values = round_values(f.header, f.players, pairing)
            f.flags = rounds_pb2.RoundFlags()
            f.flags.CopyFrom(f.parsed.flags)
            f.flags.orphan = (
                f.header.round == 2 and not f.header.shutdown_path and f.values.rows is None
            )
        settled.append((group[0], known, pairs, ids))
    return settled


def _by_weapon(players: list[Player]) -> list[Player]:
    """Weapons in id order, as a round 1 read back from the database has them."""
    return [replace(p, weapons=tuple(sorted(p.weapons, key=lambda w: w.weapon))) for p in players]


def _stored(f: _Fresh) -> rounds_pb2.StoredRound:
    assert f.values is not None and f.flags is not None
    if not f.parsed.file.recent:
        return bare_stored(f.parsed.file, f.round_id, f.parsed.stamp, f.parsed.header, f.flags)
    rows = f.values.rows
    return build_stored(
        f.parsed.file,
        f.round_id,
        f.parsed.stamp,
        f.parsed.header,
        f.flags,
        [p for p, _ in rows] if rows else f.players,
        [basis for _, basis in rows] if rows else None,
        f.values.pairing,
    )


async def _upsert_players(conn: Conn, fresh: list[_Fresh]) -> None:
    """One statement for all players of the batch: guids with the names seen."""
    seen = sorted({(p.guid, p.clean_name, f.stamp) for f in fresh for p in f.players})
    if not seen:
        return
    await conn.execute(
        "INSERT INTO players (guid, names, first_seen, last_seen)"
        " SELECT guid, array_agg(DISTINCT name ORDER BY name), min(at), max(at)"
        " FROM unnest($1::text[], $2::text[], $3::timestamp[]) AS t(guid, name, at)"
        " GROUP BY guid"
        " ON CONFLICT (guid) DO UPDATE SET"
        " names = ARRAY(SELECT DISTINCT unnest(players.names || EXCLUDED.names) ORDER BY 1),"
        " first_seen = least(players.first_seen, EXCLUDED.first_seen),"
        " last_seen = greatest(players.last_seen, EXCLUDED.last_seen)",
        [g for g, _, _ in seen],
        [n for _, n, _ in seen],
        [at for _, _, at in seen],
    )


async def record_rejection(conn: Conn, rejection: files_pb2.Rejection) -> bool:
    """Keep a rejected file visible (and retryable); never overrides an import."""
    f = rejection.file
    if not f.source or not f.filename:
        return False
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO sources (name) VALUES ($1) ON CONFLICT DO NOTHING", f.source
        )
        status = await conn.fetchval(
            "INSERT INTO files (source, filename, sha256, size, status, error, msg_id, origin,"
            " sync_id) VALUES ($1, $2, $3, 0, 'rejected', $4, $5, $6, $7)"
            " ON CONFLICT (source, filename) DO UPDATE SET error = EXCLUDED.error,"
            " sha256 = EXCLUDED.sha256 WHERE files.status = 'rejected' RETURNING status",
            f.source,
            f.filename,
            f.sha256,
            f"{rejection.stage}: {rejection.reason}",
            f.msg_id,
            ORIGIN_NAMES.get(f.origin, "unknown"),
            f.sync_id or None,
        )
    return status is not None


def _file_records(
    batch: Sequence[rounds_pb2.ParsedRound], file_ids: dict[int, int], duplicate_of: dict[int, int]
) -> Iterator[tuple[object, ...]]:
    for i, file_id in file_ids.items():
        p, f = batch[i], batch[i].file
        first = duplicate_of.get(i)
        yield (
            file_id,
            f.source,
            f.filename,
            f.sha256,
            p.payload_sha256,
            p.size,
            "imported" if first is None else "duplicate",
            first,
            f.msg_id,
            ORIGIN_NAMES.get(f.origin, "unknown"),
            f.sync_id or None,
        )


def _round_records(fresh: list[_Fresh]) -> Iterator[tuple[object, ...]]:
    for f in fresh:
        h, flags = f.parsed.header, f.flags
        assert flags is not None
        yield (
            f.round_id,
            f.file_id,
            f.parsed.file.source,
            h.map,
            h.round,
            f.stamp,
            h.server_name,
            h.config,
            h.defender_team,
            h.winner_team,
            h.time_limit_s,
            h.next_time_limit_s,
            h.playtime_ms or None,
            h.header_fields,
            h.teams_low_confidence,
            flags.partial,
            flags.short,
            flags.bot,
            flags.orphan,
        )


def _computed(f: _Fresh) -> list[tuple[Player, str]] | list[tuple[None, None]]:
    """Computed values per slot, or (None, None) per slot when unknown."""
    assert f.values is not None
    return f.values.rows or [(None, None)] * len(f.players)


def _player_records(fresh: list[_Fresh]) -> Iterator[tuple[object, ...]]:
    """Raw and computed values (computed NULL when unknown)."""
    for f in fresh:
        for slot, (p, (computed, basis)) in enumerate(zip(f.players, _computed(f), strict=True)):
            yield (
                f.round_id,
                slot,
                p.guid,
                p.name,
                p.clean_name,
                p.rounds,
                p.team,
                p.bot,
                p.kills,
                p.deaths,
                p.headshots,
                list(p.values),
                list(computed.values) if computed else None,
                computed.kills if computed else None,
                computed.deaths if computed else None,
                computed.headshots if computed else None,
                basis,
            )


def _weapon_records(fresh: list[_Fresh]) -> Iterator[tuple[object, ...]]:
    """Every weapon of the file; round numbers 0 for one unused in the round,
    NULL when the round's values are unknown."""
    for f in fresh:
        for slot, (p, (computed, _)) in enumerate(zip(f.players, _computed(f), strict=True)):
            by_weapon = {w.weapon: w for w in computed.weapons} if computed else {}
            for w in p.weapons:
                c = by_weapon.get(w.weapon)
                yield (
                    f.round_id,
                    slot,
                    w.weapon,
                    w.hits,
                    w.attempts,
                    w.kills,
                    w.deaths,
                    w.headshots,
                    *(
                        (c.hits, c.attempts, c.kills, c.deaths, c.headshots)
                        if c
                        else (0, 0, 0, 0, 0)
                        if computed
                        else (None,) * 5
                    ),
                )


FILE_COLUMNS = [
    "id", "source", "filename", "sha256", "payload_sha256", "size", "status", "duplicate_of",
    "msg_id", "origin", "sync_id",
]  # fmt: skip
ROUND_COLUMNS = [
    "id", "file_id", "source", "map", "round", "stamp", "server_name", "config", "defender_team",
    "winner_team", "time_limit_s", "next_time_limit_s", "playtime_ms", "header_fields",
    "teams_low_confidence", "partial", "short", "bot", "orphan",
]  # fmt: skip
PLAYER_COLUMNS = [
    "round_id", "slot", "guid", "name", "clean_name", "rounds", "team", "bot", "kills", "deaths",
    "headshots", "raw_values", "round_values", "round_kills", "round_deaths", "round_headshots",
    "basis",
]  # fmt: skip
WEAPON_COLUMNS = [
    "round_id", "slot", "weapon", "hits", "attempts", "kills", "deaths", "headshots",
    "round_hits", "round_attempts", "round_kills", "round_deaths", "round_headshots",
]  # fmt: skip


async def unknown_files(conn: Conn, source: str, filenames: list[str]) -> list[str]:
    """The names among `filenames` that the ledger has never seen, in one round trip."""
    rows = await conn.fetch(
        "SELECT name FROM unnest($2::text[]) AS name"
        " WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.source = $1 AND f.filename = name)",
        source,
        filenames,
    )
    return [r["name"] for r in rows]
