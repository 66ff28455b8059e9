import json
import logging

import pytest

from services.common.logs import JsonFormatter

pytestmark = pytest.mark.unit


def test_one_json_object_per_line_with_context() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "rejected %s", ("a.txt",), None)
    record.source = "main"
    record.file = "a.txt"
    line = JsonFormatter("parser").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["service"] == "parser"
    assert entry["level"] == "warning"
    assert entry["msg"] == "rejected a.txt"
    assert (entry["source"], entry["file"]) == ("main", "a.txt")
    assert entry["ts"].endswith("Z")


def test_exceptions_stay_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter("storage").format(record))
    assert "ValueError: boom" in entry["error"]
