"""`etstats stats`, `etstats top` and `etstats session`: the players' and sessions'
commands of the bot, in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from etstats.contract import reads_pb2
from etstats_cli.ops import USAGE_ERROR, with_control
from services.common.control import Control
from services.common.player_text import choice_lines, stats_embed, top_embed
from services.common.reads import Reads
from services.common.render import as_text
from services.common.session_text import no_session_text, session_pages


def run(command: str, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout

    async def stats(control: Control) -> int:
        query = reads_pb2.PlayerQuery(text=args.player)
        reply = await Reads(control.bus).stats(query, args.period)
        if reply.HasField("choice"):
            print(f"etstats: several players match {args.player!r}:", file=sys.stderr)
            for line in choice_lines(reply.choice):
                print(f"  {line}", file=sys.stderr)
            if reply.choice.total > len(reply.choice.players):
                print(
                    f"  and {reply.choice.total - len(reply.choice.players)} more", file=sys.stderr
                )
            print(
                "give one of these guids (a bot's as guid/name), or more of the name",
                file=sys.stderr,
            )
            return USAGE_ERROR
        print(as_text([stats_embed(reply)]), file=out)
        return 0

    async def top(control: Control) -> int:
        reply = await Reads(control.bus).top(
            args.metric, args.period, args.page - 1, args.min_rounds
        )
        print(as_text([top_embed(reply)]), file=out)
        return 0

    async def session(control: Control) -> int:
        reply = await Reads(control.bus).session(args.source, args.date)
        pages = session_pages(reply)
        if not pages:
            print(no_session_text(reply, args.source), file=out)
        for page in pages:
            print(as_text(page), file=out)
        return 0

    work = {"stats": stats, "top": top, "session": session}[command]
    return asyncio.run(with_control(work))
