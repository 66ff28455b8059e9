"""Probe this container's own service: `python -m services.common.healthcheck [path]`.

Slim images have no curl; Docker's HEALTHCHECK and compose run this instead.
Exit 0 when the path (default /healthz) answers 200 on HTTP_PORT, else 1.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from services.common.config import ConfigError, Env

TIMEOUT_S = 3.0


def check(port: int, path: str) -> str | None:
    """None when healthy, else what is wrong."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, urllib.error.URLError) as exc:
        return f"{url} unreachable: {getattr(exc, 'reason', exc)}"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/healthz"
    try:
        port = Env().int("HTTP_PORT", 8080, minimum=1, maximum=65535)
    except ConfigError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    problem = check(port, path)
    if problem:
        print(f"healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
