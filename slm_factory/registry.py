"""The registry: one record per stage run, versioned by git and DVC, listed across every commit and
experiment.

split writes registry/dataset.json, report writes registry/run.json and release writes
registry/release.json: each describes the outputs now in the workspace and is rewritten whole by its
stage (no `persist`, so DVC's run-cache keeps working). The history is git's: every commit and every
`dvc exp` (a ref under refs/exps) holds the records of its own outputs, so `history` lists all runs
of all experiments, and a record's rev is where `restore` gets its data and adapter back.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def content_version(paths: list[Path]) -> str:
    """The dataset version: sha256 over the split files' names and bytes (12 hex digits)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def file_md5(path: Path) -> str:
    """The md5 DVC records for a file in dvc.lock (of its bytes), so a record can be matched to a lock."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def folder_sha256(folder: Path) -> str:
    """sha256 over a folder's files (relative names and bytes, sorted): an adapter's identity."""
    h = hashlib.sha256()
    for p in sorted(x for x in folder.rglob("*") if x.is_file()):
        h.update(str(p.relative_to(folder)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def git_rev(cwd: str | Path | None = None) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=cwd).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stable_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def record_id(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    """12 hex digits of sha256 over the named fields: the same content always gets the same id."""
    return hashlib.sha256(stable_json({k: record.get(k) for k in keys}).encode()).hexdigest()[:12]


EXP_REF = re.compile(r"^refs/exps/[0-9a-f]{2}/[0-9a-f]{38}/[^/]+$")  # refs/exps/<baseline sha split 2/38>/<name>


@dataclass
class Entry:
    rev: str                 # the commit holding the record (an experiment's commit for `dvc exp` runs)
    ref: str | None          # a branch, tag or experiment ref pointing at rev, when one does
    record: dict[str, Any]

    @property
    def experiment(self) -> str | None:
        """The experiment's name when rev is a `dvc exp` commit (refs/exps/../<name>)."""
        return self.ref.rsplit("/", 1)[-1] if self.ref and EXP_REF.match(self.ref) else None


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True,
                          check=True).stdout


def history(repo: Path, path: str, key: str) -> list[Entry]:
    """Every distinct record (by `key`) that `path` held in any commit reachable from any ref,
    experiments included, newest first; each with the first rev found holding it."""
    refs: dict[str, str] = {}
    for line in _git(repo, "for-each-ref", "--format=%(objectname) %(refname)").splitlines():
        sha, name = line.split(" ", 1)
        # DVC's own bookkeeping refs (refs/exps/exec/EXEC_HEAD, ...) name no experiment
        if name.startswith("refs/exps/") and not EXP_REF.match(name):
            continue
        refs.setdefault(sha, name)
    revs = _git(repo, "rev-list", "--all", "--date-order").split()
    if not revs:
        return []
    # one `git cat-file --batch` for all revs instead of one process per commit
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, capture_output=True, check=True,
                         input="".join(f"{r}:{path}\n" for r in revs).encode()).stdout
    entries, seen, pos = [], set(), 0
    for rev in revs:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode().split()
        pos = nl + 1
        if len(header) < 3 or header[1] == "missing":
            continue
        size = int(header[2])
        body, pos = out[pos:pos + size], pos + size + 1
        try:
            record = json.loads(body)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get(key) not in seen:
            seen.add(record.get(key))
            entries.append(Entry(rev, refs.get(rev), record))
    return entries


def find_entry(repo: Path, path: str, key: str, value: str) -> Entry:
    """The history entry whose record[key] is `value` or starts with it (a unique prefix)."""
    found = [e for e in history(repo, path, key) if str(e.record.get(key, "")).startswith(value)]
    if not found:
        raise LookupError(f"no record with {key} {value!r} in {path} in any commit or experiment")
    if len({e.record[key] for e in found}) > 1:
        raise LookupError(f"{value!r} is ambiguous: " + ", ".join(sorted({e.record[key] for e in found})))
    return found[0]
