"""Players' numbers over a period: its whole years, months and days from the
sums (migrations 0003 and 0005; all time adds up a player's years), the part
days at its edges from the rounds themselves (etstats.period.split_spans), and
so are the rounds not folded into the sums yet."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from etstats.contract.players import TOTAL_FIELDS
from etstats.period import Period, SpanSplit, split_spans
from etstats.players.lookup import PlayerKey
from etstats.players.totals import Totals
from services.storage.db import Conn

# What the edges' rows give; hits and attempts come from the weapon rows.
PLAYER_ROW_FIELDS = tuple(f for f in TOTAL_FIELDS if f not in ("hits", "attempts"))
WEAPON_FIELDS = ("hits", "attempts", "kills", "headshots")
WEAPON_SPANS = ("day",)  # weapon sums are kept per day only (migration 0005)
# Sums of integers come back as numeric unless cast.
SQL_TYPES = {f.name: "bigint" if f.type == "int" else "float8" for f in fields(Totals)}


class Query:
    """SQL text with its parameters numbered as they are added."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _since(q: Query, column: str, first: date | None, end: date | None) -> str:
    bounds = [""]
    if first is not None:
        bounds.append(f"{column} >= {q.arg(first)}")
    if end is not None:
        bounds.append(f"{column} < {q.arg(end)}")
    return " AND ".join(bounds)


def _sums(q: Query, split: SpanSplit) -> str:
    """The condition on a table of sums for the spans of a split ('false' for none)."""
    parts = [f"(span = {q.arg(span)}{_since(q, 'start', a, b)})" for span, a, b in split.spans]
    return " OR ".join(parts) or "false"


def _stamps(
    q: Query, ranges: tuple[tuple[datetime | None, datetime | None], ...], column: str = "r.stamp"
) -> str:
    """The condition on a round's stamp for the ranges (None: unbounded; 'false' for none)."""
    parts = []
    for start, end in ranges:
        bounds = ["true"]
        if start is not None:
            bounds.append(f"{column} >= {q.arg(start)}")
        if end is not None:
            bounds.append(f"{column} < {q.arg(end)}")
        parts.append(f"({' AND '.join(bounds)})")
    return " OR ".join(parts) or "false"


NOT_SUMMED = "r.id IN (SELECT round_id FROM player_sums_pending)"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _from_rows(q: Query, period: Period, split: SpanSplit) -> list[str]:
    """The conditions on `rounds r` whose rows are read one by one: the edges, and
    the rounds of the rest of the period that are not in the sums yet."""
    whole = f"{NOT_SUMMED} AND ({_stamps(q, ((period.start, period.end),))})"
    if not split.edges:
        return [whole]
    return [_stamps(q, split.edges), f"{whole} AND NOT ({_stamps(q, split.edges)})"]


def _who(q: Query, key: PlayerKey | None, table: str = "") -> str:
    if key is None:
        return "bot_name = ''" if not table else f"{table}.bot_name = ''"  # people only
    dot = f"{table}." if table else ""
    return f"{dot}guid = {q.arg(key.guid)} AND {dot}bot_name = {q.arg(key.bot_name)}"


def _row_parts(rows: str) -> list[str]:
    """What each counted row of the rounds `rows` (a condition on `rounds r`) adds
    to TOTAL_FIELDS: the player rows, and the weapon rows' hits and attempts."""
    player_row = ", ".join(
        f"t.{f}" if f in PLAYER_ROW_FIELDS else f"0 AS {f}" for f in TOTAL_FIELDS
    )
    weapon_row = ", ".join(f"t.{f}" if f in ("hits", "attempts") else "0" for f in TOTAL_FIELDS)
    return [
        f"SELECT t.guid, t.bot_name, {player_row} FROM rounds r"
        " JOIN player_rounds p ON p.round_id = r.id"
        f" CROSS JOIN LATERAL player_round_totals(p) t WHERE {rows}",
        f"SELECT t.guid, t.bot_name, {weapon_row} FROM rounds r"
        " JOIN weapon_rounds w ON w.round_id = r.id"
        f" CROSS JOIN LATERAL weapon_round_totals(w) t WHERE {rows}",
    ]


def _summed(parts: list[str], who: str) -> str:
    sums = ", ".join(f"sum({f})::{SQL_TYPES[f]} AS {f}" for f in TOTAL_FIELDS)
    union = " UNION ALL ".join(parts)
    return f"SELECT guid, bot_name, {sums} FROM ({union}) x WHERE {who} GROUP BY guid, bot_name"


def totals_sql(q: Query, period: Period, key: PlayerKey | None) -> str:
    """Per player: the sums of TOTAL_FIELDS over the period (people only without `key`)."""
    split = split_spans(period)
    columns = ", ".join(TOTAL_FIELDS)
    parts = [f"SELECT guid, bot_name, {columns} FROM player_sums WHERE ({_sums(q, split)})"]
    for rows in _from_rows(q, period, split):
        parts += _row_parts(rows)
    return _summed(parts, _who(q, key))


def _totals(row: asyncpg.Record) -> Totals:
    return Totals(**{f: row[f] for f in TOTAL_FIELDS})


async def player_totals(conn: Conn, key: PlayerKey, period: Period) -> Totals:
    q = Query()
    row = await conn.fetchrow(totals_sql(q, period, key), *q.args)
    return Totals() if row is None else _totals(row)


async def leaderboard(
    conn: Conn, period: Period, min_rounds: int
) -> list[tuple[PlayerKey, Totals]]:
    """Every person (no bots) with at least `min_rounds` counted rounds in the period."""
    q = Query()
    sql = totals_sql(q, period, None)
    rows = await conn.fetch(f"{sql} HAVING sum(rounds) >= {q.arg(max(min_rounds, 1))}", *q.args)
    return [(PlayerKey(r["guid"], r["bot_name"]), _totals(r)) for r in rows]


async def rounds_totals(conn: Conn, round_ids: list[int]) -> list[tuple[PlayerKey, Totals]]:
    """Every player's totals over some rounds (bots too), from their rows."""
    q = Query()
    parts = _row_parts(f"r.id = ANY({q.arg(round_ids)}::bigint[])")
    rows = await conn.fetch(_summed(parts, "true"), *q.args)
    return [(PlayerKey(r["guid"], r["bot_name"]), _totals(r)) for r in rows]


async def top_weapons(
    conn: Conn, key: PlayerKey, period: Period, limit: int = 3
) -> list[asyncpg.Record]:
    """The player's weapons with the most kills in the period (then hits)."""
    q = Query()
    split = split_spans(period, WEAPON_SPANS)
    columns = ", ".join(WEAPON_FIELDS)
    parts = [
        f"SELECT guid, bot_name, weapon, {columns} FROM player_weapon_sums"
        f" WHERE ({_sums(q, split)})"
    ]
    for rows in _from_rows(q, period, split):
        parts.append(
            f"SELECT t.guid, t.bot_name, t.weapon, {', '.join('t.' + c for c in WEAPON_FIELDS)}"
            " FROM rounds r JOIN weapon_rounds w ON w.round_id = r.id"
            f" CROSS JOIN LATERAL weapon_round_totals(w) t WHERE {rows}"
        )
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in WEAPON_FIELDS)
    return await conn.fetch(
        f"SELECT weapon, {sums} FROM ({' UNION ALL '.join(parts)}) x WHERE {_who(q, key)}"
        f" GROUP BY weapon HAVING sum(attempts) > 0 OR sum(kills) > 0"
        f" ORDER BY sum(kills) DESC, sum(hits) DESC, weapon LIMIT {q.arg(limit)}",
        *q.args,
    )


async def recent_rounds(
    conn: Conn, key: PlayerKey, period: Period, limit: int = 5
) -> list[tuple[asyncpg.Record, Totals]]:
    """The player's latest counted rounds in the period, newest first, with their
    numbers in each (hits and attempts added from the weapon rows). The daily
    sums say from which day on they are, so that only those days' rounds are
    read (and those not in the sums yet), however many the player has."""
    days = await conn.fetch(
        "SELECT start, rounds FROM player_sums WHERE span = 'day' AND guid = $1"
        " AND bot_name = $2 AND rounds > 0 AND ($3::date IS NULL OR start >= $3)"
        " AND ($4::timestamp IS NULL OR start < $4) ORDER BY start DESC LIMIT $5",
        key.guid,
        key.bot_name,
        None if period.start is None else period.start.date(),
        period.end,
        limit,
    )
    counted, played = 0, []
    for day in days:
        counted += day["rounds"]
        played.append(day["start"])
        if counted >= limit:
            break
    q = Query()
    within = _stamps(q, ((period.start, period.end),))
    on_days = tuple((_midnight(d), _midnight(d + timedelta(days=1))) for d in played)
    summed = _stamps(q, on_days, column="stamp")
    player_row = ", ".join(f"t.{f}" for f in PLAYER_ROW_FIELDS)
    rows = await conn.fetch(
        "SELECT l.*, coalesce(w.hits, 0) AS hits, coalesce(w.attempts, 0) AS attempts FROM ("
        f" SELECT r.id, r.stamp AS round_stamp, r.source, r.map, r.round, p.slot, {player_row}"
        " FROM rounds r JOIN player_rounds p ON p.round_id = r.id"
        " CROSS JOIN LATERAL player_round_totals(p) t"
        f" WHERE p.guid = {q.arg(key.guid)} AND t.bot_name = {q.arg(key.bot_name)}"
        f" AND r.id IN (SELECT id FROM rounds WHERE {summed}"
        "  UNION ALL SELECT round_id FROM player_sums_pending)"
        f" AND ({within}) ORDER BY r.stamp DESC, r.id DESC LIMIT {q.arg(limit)}) l"
        " LEFT JOIN LATERAL (SELECT sum(round_hits) AS hits, sum(round_attempts) AS attempts"
        "  FROM weapon_rounds w WHERE w.round_id = l.id AND w.slot = l.slot) w ON true"
        " ORDER BY l.round_stamp DESC, l.id DESC",
        *q.args,
    )
    return [(r, _totals(r)) for r in rows]
