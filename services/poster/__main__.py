"""etstats poster: `python -m services.poster`."""

from services.common.runtime import run
from services.poster.service import load_config, main

if __name__ == "__main__":
    run("poster", load_config, main)
