from pathlib import Path

import pytest

from etstats.contract import common_pb2, files_pb2
from etstats_cli.protogen import PACKAGE, ROOT, generate

pytestmark = pytest.mark.unit


def test_committed_modules_match_the_proto_files(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh, "no modules generated"
    for path in fresh:
        committed = ROOT / PACKAGE / path.name
        assert committed.exists(), f"{path.name} is not committed: run `make proto`"
        assert committed.read_bytes() == path.read_bytes(), (
            f"{PACKAGE / path.name} is stale: run `make proto`"
        )
    committed_names = {p.name for p in (ROOT / PACKAGE).glob("*_pb2.py*")}
    assert committed_names == {p.name for p in fresh}


def test_raw_file_round_trip() -> None:
    raw = files_pb2.RawFile(
        file=common_pb2.FileRef(source="main", filename="x.txt", origin=common_pb2.ORIGIN_SYNC),
        body=b"\x00\xff",
    )
    again = files_pb2.RawFile.FromString(raw.SerializeToString())
    assert again == raw
    assert again.file.origin == common_pb2.ORIGIN_SYNC


def test_descriptors_register_under_an_etstats_path() -> None:
    """Other libraries (proto-plus, googleapis) ship a `common.proto` of their own."""
    for module in (common_pb2, files_pb2):
        assert module.DESCRIPTOR.name.startswith("etstats/contract/"), module.DESCRIPTOR.name
