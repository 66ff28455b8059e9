"""The controls of read answers: a menu to choose between players, buttons to turn pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import disnake
from disnake.interactions import MessageInteraction  # mypy misses disnake.<name>
from disnake.ui.select import StringSelect

from etstats.contract import reads_pb2
from etstats.contract.players import key_from_message
from etstats.text import clip
from services.bot.answers import Answer, HeldView, replace

CHOOSE_WITHIN_S = 180.0
PAGES_FOR_S = 600.0
OPTION_TEXT_MAX = 100  # a select option's label and description
OPTIONS_MAX = 25


class PlayerPicker(HeldView):
    """A select menu of the players a name matches (Discord shows at most 25)."""

    def __init__(
        self,
        author_id: int,
        players: Sequence[reads_pb2.Player],
        pick: Callable[[reads_pb2.Player], Awaitable[Answer]],
        timeout: float = CHOOSE_WITHIN_S,
    ) -> None:
        super().__init__(author_id, timeout)
        self.players = list(players)[:OPTIONS_MAX]
        self.pick = pick
        self.add_item(PlayerMenu(self))

    async def chosen(self, inter: MessageInteraction, index: int) -> None:
        await inter.response.defer()
        self.stop()
        await replace(inter, await self.pick(self.players[index]))


class PlayerMenu(StringSelect["PlayerPicker"]):
    def __init__(self, picker: PlayerPicker) -> None:
        super().__init__(
            placeholder="Choose the player",
            options=[
                disnake.SelectOption(
                    label=clip(p.name.strip() or p.ref.guid, OPTION_TEXT_MAX),
                    value=str(i),
                    description=clip(
                        f"{key_from_message(p.ref).text} · last seen {p.last_seen[:10]}",
                        OPTION_TEXT_MAX,
                    ),
                )
                for i, p in enumerate(picker.players)
            ],
        )
        self.picker = picker

    async def callback(self, inter: MessageInteraction) -> None:
        await self.picker.chosen(inter, int(self.values[0]))


Turn = Callable[[int], Awaitable[tuple[Answer, int]]]


class Pager(HeldView):
    """Previous and next buttons; `turn` answers a page and how many there are now."""

    def __init__(
        self, author_id: int, page: int, pages: int, turn: Turn, timeout: float = PAGES_FOR_S
    ) -> None:
        super().__init__(author_id, timeout)
        self.page, self.pages, self.turn = page, pages, turn
        self._enable()

    def _enable(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    @disnake.ui.button(label="◀ Previous", style=disnake.ButtonStyle.secondary)
    async def previous(self, button: disnake.ui.Button[Pager], inter: MessageInteraction) -> None:
        await self.show(inter, self.page - 1)

    @disnake.ui.button(label="Next ▶", style=disnake.ButtonStyle.secondary)
    async def next(self, button: disnake.ui.Button[Pager], inter: MessageInteraction) -> None:
        await self.show(inter, self.page + 1)

    async def show(self, inter: MessageInteraction, page: int) -> None:
        await inter.response.defer()
        answer, pages = await self.turn(page)
        if pages:  # else a failure: the buttons stay as they were
            self.page, self.pages = min(page, pages - 1), pages
            self._enable()
        answer.view = self
        await replace(inter, answer)
