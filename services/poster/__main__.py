"""etstats poster: `python -m services.poster`."""

from services.common.runtime import run
from services.poster.service import PosterConfig, main

if __name__ == "__main__":
    run("poster", PosterConfig.from_env, main)
