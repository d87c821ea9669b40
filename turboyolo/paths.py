"""Where turboyolo keeps generated and derived files (synthetic data, caches, hardware figures)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root(configured: str | None = None) -> Path:
    """cache_dir key, else $TURBOYOLO_CACHE, else ~/.cache/turboyolo; created if missing."""
    root = Path(configured or os.environ.get("TURBOYOLO_CACHE") or Path.home() / ".cache" / "turboyolo")
    root.mkdir(parents=True, exist_ok=True)
    return root
