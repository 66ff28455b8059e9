"""Debian packages some tests need (sshd, promtool), installed when the tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def ensure_package(binary: Path, package: str) -> str | None:
    """Install `package` unless `binary` exists; the reason when that cannot be done."""
    if binary.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (
            f"{binary} is missing and the tests are not root on Debian (apt-get install {package})"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    for command in (["apt-get", "update", "-qq"], install):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    return None
