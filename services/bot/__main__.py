"""etstats bot: `python -m services.bot`."""

from services.bot.service import BotConfig, main
from services.common.runtime import run

if __name__ == "__main__":
    run("bot", BotConfig.from_env, main)
