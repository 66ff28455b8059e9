"""Regenerate the committed Python modules of the bus contract (`make proto`).

The generator is pinned (grpcio-tools in pyproject.toml), so the output is
reproducible and a test can tell when the committed modules are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path, root: Path = ROOT) -> list[Path]:
    """Compile proto/*.proto into `out_dir`/proto; returns the files written."""
    from grpc_tools import protoc

    sources = sorted(str(p) for p in (root / "proto").glob("*.proto"))
    (out_dir / "proto").mkdir(parents=True, exist_ok=True)
    args = ["protoc", f"-I{root}", f"--python_out={out_dir}", f"--pyi_out={out_dir}", *sources]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    return sorted((out_dir / "proto").glob("*_pb2.py*"))


def main() -> None:
    written = generate(ROOT)
    print("\n".join(str(p.relative_to(ROOT)) for p in written))


if __name__ == "__main__":
    sys.exit(main())
