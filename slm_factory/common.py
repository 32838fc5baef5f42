"""Small helpers every stage uses: params, logging to stderr, JSON outputs."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .config import Params


def load_params(path: str | Path, declared: Sequence[str]) -> "Params":
    """The params a stage declares in dvc.yaml (`group`, `key` or `group.key`), typed and validated by
    slm_factory.config before any work (a bad value stops the stage with one line naming the key),
    and only those: reading an undeclared key raises UndeclaredParam, so dvc.yaml cannot fall behind
    the code."""
    from .config import load

    return load(path, declared)


def get_logger(stage: str) -> logging.Logger:
    logger = logging.getLogger(f"slm_factory.{stage}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"[{stage}] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def temp_beside(path: Path) -> Path:
    """A temporary name in the same folder (so the final rename is atomic), unique per process."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write the whole file under a temporary name, then rename it into place: a reader (or a rerun
    after a crash) sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | Path, obj: Any) -> None:
    """Indented JSON, written atomically (a killed stage leaves the old file, never half a new one)."""
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def pick(full: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The nested sub-dict of `full` holding only the dotted `keys` that exist (order kept).

    Declared DVC metrics hold only headline figures picked this way, so `dvc exp show` and
    `dvc metrics diff` stay readable; the full figures go to a plain details file."""
    out: dict[str, Any] = {}
    for key in keys:
        node: Any = full
        parts = key.split(".")
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                break
            node = node[p]
        else:
            dst = out
            for p in parts[:-1]:
                dst = dst.setdefault(p, {})
            dst[parts[-1]] = node
    return out


def write_metrics(metrics_path: str | Path, details_path: str | Path | None, full: dict[str, Any],
                  headline: list[str]) -> None:
    """The stage's declared metrics (the `headline` keys of `full`) and, when given, every figure in
    a plain details file. Neither may hold timings: other stages depend on them."""
    write_json(metrics_path, pick(full, headline))
    if details_path is not None:
        write_json(details_path, full)


def response_cache_dir(kind: str, given: str | Path | None = None) -> Path:
    """Where paid answers are kept: `given` (a --cache flag), else $SLM_FACTORY_CACHE/<kind>, else
    $XDG_CACHE_HOME/slm_factory/<kind> (~/.cache/slm_factory/<kind>).

    Outside the workspace on purpose: `dvc exp run --queue/--temp` runs in a copy of the repo that
    holds no ignored files, and a second clone or CI starts empty; a shared, content-addressed cache
    lets all of them reuse every answer already paid for. Keys cover everything that changes an
    answer (teacher identity and the filled request), so tasks and clones can share one cache."""
    if given is not None:
        return Path(given)
    root = os.environ.get("SLM_FACTORY_CACHE")
    if root:
        return Path(root) / kind
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slm_factory" / kind
