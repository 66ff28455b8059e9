"""etstats storage: `python -m services.storage`."""

from services.common.runtime import run
from services.storage.service import StorageConfig, main

if __name__ == "__main__":
    run("storage", StorageConfig.from_env, main)
