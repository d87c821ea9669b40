"""Bench tables and JSON: readable numbers, aligned columns, strict JSON."""
import json
import math

from turboyolo.perf.report import format_table, format_value, write_json


def test_format_value():
    assert format_value(3_157_000) == "3.157M"
    assert format_value(6.4e10) == "64G"
    assert format_value(0.123456) == "0.1235"
    assert format_value(None) == "-"
    assert format_value("fp32") == "fp32"


def test_table_columns_align():
    text = format_table(["name", "value"], [["a", 1.0], ["longer name", 12345.0]])
    lines = text.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1


def test_json_has_no_nan(tmp_path):
    path = write_json(tmp_path / "x.json", {"a": math.nan, "b": [1, 2.5], "c": object()})
    figures = json.loads(path.read_text())
    assert figures["a"] is None and figures["b"] == [1, 2.5] and isinstance(figures["c"], str)
