"""Who a query means: a typed name, a player chosen before, or a Discord link."""

from __future__ import annotations

from dataclasses import dataclass

from etstats.contract import reads_pb2
from etstats.contract.players import key_from_message
from etstats.players.lookup import Candidate, KnownName, PlayerKey, candidates, find_players
from services.common.rpc import ServiceError
from services.storage.db import Conn

MAX_CHOICES = 25  # a Discord select menu's options


@dataclass(frozen=True)
class Choice:
    """Several players match: the likeliest first, `total` of them in all."""

    players: tuple[Candidate, ...]
    total: int


async def known_names(conn: Conn, keys: list[PlayerKey] | None = None) -> list[KnownName]:
    """Every name every player had (or those of some players)."""
    if keys is None:
        rows = await conn.fetch("SELECT guid, bot_name, name, last_seen FROM player_names")
    else:
        rows = await conn.fetch(
            "SELECT guid, bot_name, name, last_seen FROM player_names"
            " WHERE (guid, bot_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [k.guid for k in keys],
            [k.bot_name for k in keys],
        )
    return [KnownName(PlayerKey(r["guid"], r["bot_name"]), r["name"], r["last_seen"]) for r in rows]


async def players(conn: Conn, keys: list[PlayerKey]) -> dict[PlayerKey, Candidate]:
    """The stored players of some keys, each under their latest name."""
    return candidates(await known_names(conn, keys))


async def player(conn: Conn, key: PlayerKey) -> Candidate | None:
    """The stored player of a key, None if no round of theirs is stored."""
    return (await players(conn, [key])).get(key)


async def linked_key(conn: Conn, discord_id: str) -> PlayerKey | None:
    guid = await conn.fetchval("SELECT guid FROM player_links WHERE discord_id = $1", discord_id)
    return None if guid is None else PlayerKey(guid)


NOT_LINKED = "no player is linked to that Discord member"


async def resolve(conn: Conn, query: reads_pb2.PlayerQuery) -> Candidate | Choice:
    """The one player `query` means, or the choice when a name fits several;
    ServiceError 404 (with "did you mean") when none fits, 400 for no query."""
    if query.HasField("ref"):
        key = key_from_message(query.ref)
        found = await player(conn, key)
        if found is None:
            raise ServiceError("404", f"no player {key.text} is stored")
        return found
    if query.discord_id:
        linked = await linked_key(conn, query.discord_id)
        found = None if linked is None else await player(conn, linked)
        if found is None:
            raise ServiceError("404", NOT_LINKED)
        return found
    if not query.text.strip():
        raise ServiceError("400", "give a player's name or guid")
    lookup = find_players(query.text, await known_names(conn))
    if len(lookup.candidates) == 1:
        return lookup.candidates[0]
    if lookup.candidates:
        return Choice(lookup.candidates[:MAX_CHOICES], len(lookup.candidates))
    meant = f"; did you mean {', '.join(lookup.suggestions)}?" if lookup.suggestions else ""
    raise ServiceError("404", f"no player matches {query.text.strip()!r}{meant}")
