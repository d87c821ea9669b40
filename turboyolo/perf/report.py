"""How bench results are shown: a plain text table on stdout, the same figures as JSON on request."""
from __future__ import annotations

import json
import math
from pathlib import Path


def format_value(value) -> str:
    """Numbers to 4 significant digits (big ones with SI suffixes); None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if magnitude >= limit:
            return f"{value / limit:.4g}{suffix}"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def format_table(headers: list[str], rows: list[list]) -> str:
    """Left-aligned first column, right-aligned numbers, columns sized to fit."""
    cells = [[str(h) for h in headers]] + [[format_value(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(title: str, headers: list[str], rows: list[list]) -> None:
    print(f"\n{title}\n{format_table(headers, rows)}")


def print_figures(title: str, figures: dict, labels: dict[str, str]) -> None:
    """Two-column table of the keys in `labels` (key -> readable name) that `figures` has."""
    rows = [[name, figures[key]] for key, name in labels.items() if key in figures]
    print_table(title, ["measure", "value"], rows)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(path: str | Path, figures: dict) -> Path:
    """The figures as pretty JSON (non-finite numbers as null, other objects as strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(figures), indent=2) + "\n")
    return path
