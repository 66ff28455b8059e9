"""Regenerate the committed Python modules of the bus contract (`make proto`).

The `.proto` files live under `proto/etstats/contract/`, so their descriptors
register as `etstats/contract/<name>.proto` (no clash with other libraries'
`common.proto`) and the modules land in the `etstats.contract` package.
The generator is pinned (grpcio-tools in pyproject.toml), so the output is
reproducible and a test can tell when the committed modules are stale.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("etstats") / "contract"


def generate(out_dir: Path, root: Path = ROOT) -> list[Path]:
    """Compile the contract's .proto files into `out_dir`; returns the modules written."""
    from grpc_tools import protoc

    proto_root = root / "proto"
    sources = sorted(str(p) for p in (proto_root / PACKAGE).glob("*.proto"))
    (out_dir / PACKAGE).mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{proto_root}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    return sorted((out_dir / PACKAGE).glob("*_pb2.py*"))


def main() -> None:
    written = generate(ROOT)
    print("\n".join(str(p.relative_to(ROOT)) for p in written))


if __name__ == "__main__":
    main()
