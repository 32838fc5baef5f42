"""The committed dvc.lock (and so the committed metrics, reports and registries) comes from the committed
code: `dvc status` may find outputs missing (a fresh clone has no DVC cache until `dvc pull`), but no
dependency, param or command may differ from what the lock recorded."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

DVC = Path(sys.executable).parent / "dvc"


def drift(status: dict) -> dict[str, list]:
    """{stage: what differs from the lock} ignoring paths that are only missing from the workspace."""
    out: dict[str, list] = {}
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, str):  # "changed command", "always changed"
                out.setdefault(stage, []).append(change)
                continue
            for kind, paths in change.items():
                if kind == "changed outs":
                    continue  # outputs are checked through the stages that depend on them
                for path, what in paths.items():
                    if what != "deleted":
                        out.setdefault(stage, []).append(f"{kind}: {path}: {what}")
    return out


def test_drift_ignores_missing_files_only():
    status = {"train": [{"changed deps": {"data/train.jsonl": "deleted", "slm_factory/modeling.py": "modified"}},
                        {"changed outs": {"outputs/adapters/current": "deleted"}}],
              "eval": [{"changed deps": {"params.yaml": {"eval.limit": "modified"}}}, "changed command"],
              "split": [{"changed deps": {"data/accepted/deduped.jsonl": "deleted"}}]}
    assert drift(status) == {"train": ["changed deps: slm_factory/modeling.py: modified"],
                             "eval": ["changed deps: params.yaml: {'eval.limit': 'modified'}", "changed command"]}


@pytest.mark.skipif(not (ROOT / "dvc.lock").exists() or shutil.which(str(DVC)) is None,
                    reason="no committed dvc.lock or no dvc")
def test_committed_lock_matches_the_committed_code():
    p = subprocess.run([str(DVC), "status", "--json"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert p.returncode == 0, p.stderr
    found = drift(json.loads(p.stdout or "{}"))
    assert found == {}, ("dvc.lock was not produced by this code; rerun `make run` and commit the results:\n"
                         + json.dumps(found, indent=1))
