"""The fault suite: a catch-up sync while rounds are being played, and one fault.

Each scenario runs the stack as separate processes, as deployed: real
nats-server and PostgreSQL, OpenSSH's sshd serving the game server's stats
directory, the fake Discord (as strict as Discord). An admin asks for a sync of
every old file through Discord; live rounds are written while it runs; the
fault strikes mid-sync. A killed process is started again a second later, as
compose and Kubernetes do. Then the suite waits for the stack to settle and
counts, against what was written:

- files lost (never stored) and doubled (stored twice);
- live rounds not posted, posted twice, posted out of play order; old rounds
  posted (they never may be);
- seconds from the end of the fault until everything is stored and posted;
- operator actions: a second sync the admin had to ask for, a progress message
  left unfinished.

`make chaos` runs every scenario; `python -m benchmarks.chaos NAME ...` some.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from benchmarks.latency import sources_yaml
from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port, port_open
from services.common.durables import ACK_WAIT_S
from tests.fake_discord import ADMIN_ROLE_ID, GUILD_ID, FakeDiscord
from tests.sshservers import SSHD, SshServer, ensure_sshd, start_sshd

SERVICES = ("storage", "parser", "fetcher", "poster", "bot")
ROUND_CHANNEL = "710000000000000001"
ADMIN_CHANNEL = "710000000000000002"
SETTLE_S = 180.0  # longest wait for the stack to settle after a fault
# Files still missing this long after the sync ended: sync again. Longer than the
# ack wait: what a killed storage had taken comes back only after it.
GIVE_UP_S = ACK_WAIT_S + 15.0
FINAL_WORDS = (" done in ", "cancelled", "lost", "failed", "not started", "stopped")


@dataclass
class Replica:
    """One service process; killed and started again as an orchestrator would."""

    name: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        self.signal(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    nats: EmbeddedNats
    postgres: EmbeddedPostgres
    database_url: str
    sshd: SshServer
    sshd_argv: list[str]
    discord: FakeDiscord
    replicas: dict[str, list[Replica]] = field(default_factory=dict)

    async def restart(self, name: str, index: int = 0, *, down_s: float = 1.0) -> None:
        """kill -9, then started again after `down_s` (a restart policy)."""
        replica = self.replicas[name][index]
        replica.kill()
        await asyncio.sleep(down_s)
        replica.start()

    def kill_sshd(self) -> None:
        self.sshd.close()

    async def start_sshd(self) -> None:
        proc = await asyncio.to_thread(subprocess.Popen, self.sshd_argv)
        while not port_open("127.0.0.1", self.sshd.port):
            if proc.poll() is not None:
                raise RuntimeError("sshd did not start again")
            await asyncio.sleep(0.05)

        def stop() -> None:
            proc.terminate()
            proc.wait(10)

        self.sshd.close = stop

    def stop(self) -> None:
        for replicas in self.replicas.values():
            for replica in replicas:
                replica.stop()
        self.sshd.close()
        self.postgres.stop()
        self.nats.stop()


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Stack], Awaitable[None]] | None = None
    replicas: int = 1
    period: str = "all"


@dataclass
class Result:
    scenario: str
    files_lost: int
    files_doubled: int
    posts_lost: int
    posts_doubled: int
    posts_out_of_order: int
    old_posted: int
    recovery_s: float
    operator_actions: int
    notes: list[str] = field(default_factory=list)

    def clean(self) -> bool:
        return not (
            self.files_lost
            or self.files_doubled
            or self.posts_lost
            or self.posts_doubled
            or self.posts_out_of_order
            or self.old_posted
            or self.operator_actions
        )


# --- faults --------------------------------------------------------------------


def kill(name: str) -> Callable[[Stack], Awaitable[None]]:
    async def fault(stack: Stack) -> None:
        await stack.restart(name)

    return fault


async def nats_restart(stack: Stack) -> None:
    assert stack.nats.proc is not None
    stack.nats.proc.kill()
    stack.nats.proc.wait()
    await asyncio.sleep(5)
    stack.nats.start()


async def postgres_restart(stack: Stack) -> None:
    stack.postgres.stop()
    await asyncio.sleep(2)
    stack.postgres.start()


async def sshd_restart(stack: Stack) -> None:
    stack.kill_sshd()
    await asyncio.sleep(5)
    await stack.start_sshd()


async def discord_bursts(stack: Stack) -> None:
    stack.discord.rate_limit(r"POST /channels/\d+/messages", times=5, retry_after=1.0)
    stack.discord.fail(r"(POST|PATCH) /channels/\d+/messages", 502, times=5)


async def parser_stopped(stack: Stack) -> None:
    parser = stack.replicas["parser"][0]
    parser.signal(signal.SIGSTOP)
    await asyncio.sleep(10)
    parser.signal(signal.SIGCONT)


async def everything(stack: Stack) -> None:
    await discord_bursts(stack)
    await asyncio.gather(
        sshd_restart(stack), *(kill(name)(stack) for name in ("fetcher", "parser", "poster"))
    )
    await kill("storage")(stack)
    await nats_restart(stack)
    await kill("bot")(stack)


SCENARIOS = (
    Scenario("no fault"),
    Scenario("kill -9 fetcher", kill("fetcher")),
    Scenario("kill -9 parser", kill("parser")),
    Scenario("kill -9 storage", kill("storage")),
    Scenario("kill -9 poster", kill("poster")),
    Scenario("kill -9 bot", kill("bot")),
    Scenario("NATS killed, back after 5 s", nats_restart),
    Scenario("PostgreSQL restarted", postgres_restart),
    Scenario("sshd killed, back after 5 s", sshd_restart),
    Scenario("Discord 429 and 5xx bursts", discord_bursts),
    Scenario("parser stopped (SIGSTOP) 10 s", parser_stopped),
    Scenario("!sync_today while rounds are played", period="today"),
    Scenario("two replicas of every service", replicas=2),
    Scenario("all of these at once", everything, replicas=2),
)
QUICK = ("!sync_today while rounds are played", "kill -9 storage")


# --- the workload ----------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    filename: str
    map: str
    round: int
    stamp: datetime
    live: bool


def write_old(root: Path, files: int, rng: random.Random) -> list[Written]:
    """Rounds of weeks ago, their files as old: a sync imports them, nothing posts them."""
    written = []
    start = datetime.now() - timedelta(days=20)
    for i in range(files // 2):
        for g in generate_match(rng, start + timedelta(minutes=40 * i), players=rng.randint(6, 12)):
            path = root / g.filename
            path.write_bytes(g.body)
            stamp = datetime.strptime(g.filename[:17], "%Y-%m-%d-%H%M%S")
            os.utime(path, (stamp.timestamp(), stamp.timestamp()))
            written.append(Written(g.filename, g.header.map, g.header.round, stamp, live=False))
    return written


async def play_live(root: Path, rounds: int, rng: random.Random, out: list[Written]) -> None:
    """Rounds ending now, one file every 1.5 s (whole seconds apart, as game servers do)."""
    for _ in range(rounds // 2):
        for g in generate_match(rng, datetime.now(), players=rng.randint(6, 12)):
            stamp = datetime.now().replace(microsecond=0)
            filename = f"{stamp:%Y-%m-%d-%H%M%S}-{g.header.map}-round-{g.header.round}.txt"
            (root / filename).write_bytes(g.body)
            out.append(Written(filename, g.header.map, g.header.round, stamp, live=True))
            await asyncio.sleep(1.5)


# --- running one scenario ----------------------------------------------------------------


async def start_stack(tmp: Path, replicas: int) -> Stack:
    nats = EmbeddedNats(tmp / "nats", free_port())
    nats.start()
    postgres = EmbeddedPostgres(tmp / "pg")
    database_url = postgres.start()
    sshd = start_sshd(tmp)
    discord = await FakeDiscord().start()
    sources = tmp / "sources.yaml"
    sources_yaml(sshd, sources)
    env = {
        **os.environ,
        "NATS_URL": nats.url,
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "SOURCES_FILE": str(sources),
        "DATABASE_URL": database_url,
        "BACKUP_DIR": str(tmp / "backups"),
        "DISCORD_TOKEN": "token",
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_ROUND_CHANNEL_ID": ROUND_CHANNEL,
        "DISCORD_ADMIN_CHANNEL_ID": ADMIN_CHANNEL,
        "DISCORD_GUILD_IDS": GUILD_ID,
        "ADMIN_ROLE_IDS": ADMIN_ROLE_ID,
    }
    argv = [str(SSHD), "-D", "-E", str(tmp / "sshd.log"), "-f", str(tmp / "sshd_config")]
    stack = Stack(nats, postgres, database_url, sshd, argv, discord)
    for name in SERVICES:
        count = 1 if name == "bot" else replicas  # one gateway session per bot token
        stack.replicas[name] = [Replica(name, env, tmp / f"{name}-{i}.log") for i in range(count)]
        for replica in stack.replicas[name]:
            replica.start()
    await asyncio.wait_for(discord.identified.wait(), 60)
    return stack


def sync_messages(discord: FakeDiscord) -> list[str]:
    return [m["content"] for m in discord.replies() if m["content"].lower().startswith("sync")]


def posted_rounds(discord: FakeDiscord) -> list[tuple[str, int, str]]:
    """(map, round, stamp) of each round post, in channel order."""
    found = []
    for message in discord.posts(ROUND_CHANNEL):
        for embed in message.get("embeds", [])[:1]:
            title = embed.get("title", "").replace("\\", "")
            footer = embed.get("footer", {}).get("text", "")
            if " · round " in title and " · " in footer:
                map_name, _, round_no = title.rpartition(" · round ")
                found.append((map_name, int(round_no), footer.split(" · ")[1]))
    return found


async def stored_files(conn: asyncpg.Connection) -> Counter[str]:
    rows = await conn.fetch("SELECT f.filename FROM rounds r JOIN files f ON f.id = r.file_id")
    return Counter(r["filename"] for r in rows)


async def run_scenario(scenario: Scenario, tmp: Path, old_files: int, live_rounds: int) -> Result:
    rng = random.Random(scenario.name)
    stack = await start_stack(tmp, scenario.replicas)
    try:
        expected = write_old(stack.sshd.root, old_files, rng)
        await asyncio.sleep(3)  # the fetcher's first look: these are old, not to post
        live: list[Written] = []
        playing = asyncio.create_task(play_live(stack.sshd.root, live_rounds, rng, live))
        await asyncio.sleep(2)
        await stack.discord.message(f"!sync_stats {scenario.period}", admin=True)
        conn = await connect_retrying(stack.database_url)
        try:
            await mid_sync(conn, old_files // 3)
        finally:
            await conn.close()
        if scenario.fault is not None:
            await scenario.fault(stack)
        fault_over = time.monotonic()
        await playing
        # Live rounds get in whatever the period; old ones only with a sync of all.
        wanted = {w.filename for w in [*expected, *live] if w.live or scenario.period == "all"}
        conn = await connect_retrying(stack.database_url)
        try:
            settled_at, actions = await settle(stack, conn, wanted, live, scenario)
            await asyncio.sleep(3)  # anything doubled late shows now
            stored = await stored_files(conn)
        finally:
            await conn.close()
        return measure(scenario, stack, wanted, live, stored, settled_at - fault_over, actions)
    finally:
        stack.stop()  # the bot first: Discord waits for its gateway to close
        await stack.discord.stop()


async def mid_sync(conn: asyncpg.Connection, stored: int, within_s: float = 30.0) -> None:
    """Returns once `stored` rounds are in (the fault strikes mid-sync), or after a while."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await conn.fetchval("SELECT count(*) FROM rounds") >= stored:
            return
        await asyncio.sleep(0.1)


async def connect_retrying(url: str) -> asyncpg.Connection:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def settle(
    stack: Stack,
    conn: asyncpg.Connection,
    wanted: set[str],
    live: Sequence[Written],
    scenario: Scenario,
) -> tuple[float, int]:
    """Waits until every file is stored, every live round posted and the sync's
    message final; asks for one more sync (an operator action) if that is what
    it takes. Returns when it settled and the actions taken."""
    actions = 0
    deadline = time.monotonic() + SETTLE_S
    asked_again = False
    final_since: float | None = None
    while time.monotonic() < deadline:
        try:
            stored = await stored_files(conn)
        except (OSError, asyncpg.PostgresError):
            conn = await connect_retrying(stack.database_url)
            continue
        posted = {(m, r, s) for m, r, s in posted_rounds(stack.discord)}
        live_posted = all(live_key(w) in posted for w in live)
        messages = sync_messages(stack.discord)
        final = bool(messages) and all(any(w in m for w in FINAL_WORDS) for m in messages)
        if wanted <= set(stored) and live_posted and final:
            return time.monotonic(), actions
        final_since = (final_since or time.monotonic()) if final else None
        stuck = final_since is not None and time.monotonic() - final_since > GIVE_UP_S
        if stuck and not wanted <= set(stored) and not asked_again:
            # The sync ended and files are missing: the operator syncs again.
            asked_again = True
            actions += 1
            await stack.discord.message(f"!sync_stats {scenario.period}", admin=True)
        await asyncio.sleep(0.5)
    messages = sync_messages(stack.discord)
    if not messages or not all(any(w in m for w in FINAL_WORDS) for m in messages):
        actions += 1  # a progress message left at "running": someone has to look
    return time.monotonic(), actions


def live_key(w: Written) -> tuple[str, int, str]:
    return (w.map, w.round, f"{w.stamp:%Y-%m-%d %H:%M:%S}")


def measure(
    scenario: Scenario,
    stack: Stack,
    wanted: set[str],
    live: Sequence[Written],
    stored: Counter[str],
    recovery_s: float,
    actions: int,
) -> Result:
    posts = posted_rounds(stack.discord)
    counts = Counter(posts)
    live_keys = [live_key(w) for w in live]
    live_posts = [p for p in posts if p in set(live_keys)]
    first_seen = list(dict.fromkeys(live_posts))
    play_order = [k for k in live_keys if k in set(first_seen)]
    out_of_order = sum(1 for a, b in zip(first_seen, play_order, strict=True) if a != b)
    return Result(
        scenario.name,
        files_lost=len(wanted - set(stored)),
        files_doubled=sum(n - 1 for n in stored.values() if n > 1),
        posts_lost=sum(1 for k in live_keys if counts[k] == 0),
        posts_doubled=sum(counts[k] - 1 for k in live_keys if counts[k] > 1),
        posts_out_of_order=out_of_order,
        old_posted=len(posts) - len(live_posts),
        recovery_s=max(recovery_s, 0.0),
        operator_actions=actions,
        notes=[m.splitlines()[0] for m in sync_messages(stack.discord)],
    )


# --- the table --------------------------------------------------------------------------

HEADER = (
    "| scenario | files lost | files doubled | posts lost | posts doubled |"
    " posts out of order | old rounds posted | recovery (s) | operator actions |"
)


def row(r: Result) -> str:
    return (
        f"| {r.scenario} | {r.files_lost} | {r.files_doubled} | {r.posts_lost} |"
        f" {r.posts_doubled} | {r.posts_out_of_order} | {r.old_posted} |"
        f" {r.recovery_s:.1f} | {r.operator_actions} |"
    )


async def run(names: Sequence[str], old_files: int, live_rounds: int) -> list[Result]:
    if reason := ensure_sshd():
        raise SystemExit(f"the fault suite needs OpenSSH's sshd: {reason}")
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    results = []
    print(f"{old_files} old files synced, {live_rounds} live rounds played, per scenario")
    print(HEADER)
    print("|---" * 9 + "|")
    for scenario in chosen:
        with tempfile.TemporaryDirectory(prefix="etstats-chaos-") as tmp:
            try:
                result = await run_scenario(scenario, Path(tmp), old_files, live_rounds)
            except Exception as exc:  # the harness's own trouble: say so, go on
                result = Result(scenario.name, -1, -1, -1, -1, -1, -1, 0.0, -1, [repr(exc)])
        results.append(result)
        print(row(result), flush=True)
        if not result.clean():
            print("  sync messages: " + " / ".join(result.notes), file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="names of scenarios (default: all)")
    parser.add_argument("--old-files", type=int, default=500)
    parser.add_argument("--live-rounds", type=int, default=12)
    args = parser.parse_args()
    results = asyncio.run(run(args.scenarios, args.old_files, args.live_rounds))
    sys.exit(0 if all(r.clean() for r in results) else 1)


if __name__ == "__main__":
    main()
