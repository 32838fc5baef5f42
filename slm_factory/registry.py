"""registry/*.jsonl: append-only records of dataset versions and training runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from .rows import dump_line, read_jsonl


def content_version(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def append_unique(path: Path, record: dict, key: str) -> bool:
    """Append `record` unless a line with the same record[key] exists. Returns whether it appended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = read_jsonl(path) if path.exists() else []
    if any(e.get(key) == record[key] for e in existing):
        return False
    with path.open("a", encoding="utf-8") as f:
        f.write(dump_line(record) + "\n")
    return True


def latest(path: Path) -> dict | None:
    if not path.exists():
        return None
    lines = read_jsonl(path)
    return lines[-1] if lines else None


def find(path: Path, key: str, value) -> dict | None:
    if not path.exists():
        return None
    return next((e for e in read_jsonl(path) if e.get(key) == value), None)


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stable_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
