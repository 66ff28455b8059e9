"""The `etstats` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etstats", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up", help="run the whole stack locally (embedded NATS and PostgreSQL)"
    )
    up.add_argument("--json-logs", action="store_true", help="print service logs as raw JSON")

    demo = commands.add_parser(
        "demo", help="write realistic round files into the watched directory"
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="directory to write to (default: LOCAL_SOURCE_DIR or ./var/gamestats)",
    )
    demo.add_argument("--maps", type=int, default=1, help="how many maps (R1 + R2 each)")
    demo.add_argument("--gap", type=float, default=5.0, help="seconds between files")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for repeatable files")

    sync = commands.add_parser(
        "sync", help="import every missing file of a period, or cancel the running sync"
    )
    sync.add_argument(
        "period", nargs="?", help="today, yesterday, 2d, 1w, 1m, all, 2026-11-01, a..b"
    )
    sync.add_argument("--source", help="one source (default: all)")
    sync.add_argument(
        "--cancel",
        nargs="?",
        const="",
        metavar="SYNC_ID",
        help="cancel this sync (default: every running sync) instead of starting one",
    )
    commands.add_parser("status", help="sources, monitoring and storage counters")
    monitor = commands.add_parser("monitor", help="switch live monitoring on or off")
    monitor.add_argument("state", choices=["on", "off"])
    monitor.add_argument("--source", help="one source (default: all)")
    commands.add_parser("health", help="every service instance, and any not answering")
    commands.add_parser("backup", help="back the database up now")
    reimport = commands.add_parser("reimport", help="import rejected files again after a fix")
    reimport.add_argument(
        "--rejected",
        action="store_true",
        required=True,
        help="the files to import again: those rejected",
    )
    reimport.add_argument("--source", help="one source (default: all)")

    stats = commands.add_parser("stats", help="a player's stats over a period")
    stats.add_argument("player", help="a name (or a part of one, any case) or a guid")
    stats.add_argument("--period", default="", help="today, 1week, 2026-11-01.. (default: all)")
    top = commands.add_parser("top", help="the best players by a metric")
    top.add_argument(
        "metric", help="kills, kd, dpm, damage, accuracy, headshots, revives, objectives, rounds"
    )
    top.add_argument("--period", default="", help="today, 1week, 2026-11-01.. (default: all)")
    top.add_argument(
        "--min-rounds", type=int, default=0, help="rounds a player needs (default: 10)"
    )
    top.add_argument("--page", type=int, default=1, help="10 players a page (default: 1)")

    session = commands.add_parser("session", help="a day's gaming sessions, or the last one")
    session.add_argument(
        "date", nargs="?", default="", help="2026-11-24, today or yesterday (default: the last)"
    )
    session.add_argument("--source", default="", help="one source (default: all)")

    parse = commands.add_parser("parse", help="show what etstats makes of stats files")
    parse.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    parse.add_argument("--json", action="store_true", help="one JSON object per line per file")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "sync" and (args.period is None) == (args.cancel is None):
        parser.error("etstats sync: give a period, or --cancel [SYNC_ID]")
    if args.command == "up":
        from etstats_cli.stack import up

        return up(json_logs=args.json_logs)
    if args.command == "demo":
        from etstats_cli.demo import demo

        if args.maps < 1 or args.gap < 0:
            print("etstats demo: --maps must be at least 1 and --gap not negative", file=sys.stderr)
            return 2
        default_dir = os.environ.get("LOCAL_SOURCE_DIR") or str(
            Path(os.environ.get("ETSTATS_VAR_DIR", "./var")) / "gamestats"
        )
        demo(args.dir or Path(default_dir), maps=args.maps, gap=args.gap, seed=args.seed)
        return 0
    if args.command in ("stats", "top") and (
        getattr(args, "page", 1) < 1 or (getattr(args, "min_rounds", 0) < 0)
    ):
        parser.error("etstats top: --page must be at least 1 and --min-rounds not negative")
    if args.command in ("sync", "status", "monitor", "health", "backup", "reimport"):
        from etstats_cli.ops import run as run_operation

        return run_operation(args.command, args)
    if args.command in ("stats", "top", "session"):
        from etstats_cli.reads_command import run as run_read

        return run_read(args.command, args)
    if args.command == "parse":
        from etstats_cli.parse_command import run

        try:
            return run(args.paths, as_json=args.json)
        except BrokenPipeError:  # `etstats parse ... | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
