"""etstats parser: `python -m services.parser`."""

from services.common.runtime import run
from services.parser.service import ParserConfig, main

if __name__ == "__main__":
    run("parser", ParserConfig.from_env, main)
