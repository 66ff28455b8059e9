"""etstats fetcher: `python -m services.fetcher`."""

from services.common.runtime import run
from services.fetcher.service import FetcherConfig, main

if __name__ == "__main__":
    run("fetcher", FetcherConfig.from_env, main)
