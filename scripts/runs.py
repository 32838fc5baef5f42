"""runs: every run and dataset version across all commits and experiments, and getting one back.

    python scripts/runs.py list                 # every run: id, where, dataset, adapter, headline per set
    python scripts/runs.py datasets             # every dataset version: where, rows per split
    python scripts/runs.py restore RUN_ID       # its data and adapter back in the workspace, checked

A run's record (registry/run.json) is written by the report stage and committed with the results, or
kept in the experiment's commit by `dvc exp run`; git is the registry's history, so nothing is
appended and DVC's run-cache stays on. `restore` applies the experiment (`dvc exp apply`) or the
commit's files (`git checkout REV -- .` + `dvc checkout`) to the workspace, HEAD unchanged, then
re-hashes the splits and the adapter against the record. Files not in the local DVC cache come from the
remote: run `dvc pull` when told.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from slm_factory.registry import content_version, find_entry, folder_sha256, history

RUN, DATASET = "registry/run.json", "registry/dataset.json"


def where(e) -> str:
    return e.experiment or (e.ref.removeprefix("refs/heads/") if e.ref else e.rev[:10])


def list_runs(repo: Path) -> list[str]:
    lines = []
    for e in history(repo, RUN, "run_id"):
        r = e.record
        figures = " ".join(f"{s}={next(iter(v.values()), None)}" for s, v in (r.get("metrics") or {}).items())
        lines.append(f"{r['run_id']}  {where(e):<24} dataset {r.get('dataset_version')}  adapter "
                     f"{r.get('adapter_sha256')}  lora_rank={r.get('params', {}).get('lora_rank')}  {figures}  "
                     f"gates {'PASS' if r.get('release_gates_pass') else 'FAIL'}")
    return lines


def list_datasets(repo: Path) -> list[str]:
    return [f"{e.record['version']}  {where(e):<24} {e.record.get('counts')}  task {e.record.get('task')}"
            for e in history(repo, DATASET, "version")]


def restore(repo: Path, run_id: str, splits: list[Path], adapter: Path, force: bool = False) -> str:
    """Put the run's files (code, params, lock, data, adapter) in the workspace, HEAD unchanged, as
    `dvc exp apply` does, and check the data and adapter against its record."""
    e = find_entry(repo, RUN, "run_id", run_id)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True,
                           text=True, check=True).stdout.strip()
    if dirty and not force:
        raise SystemExit("the workspace has uncommitted changes that restoring would overwrite: commit or stash "
                         "them first (or pass --force)")
    if e.experiment:
        cmd = [["dvc", "exp", "apply", e.experiment]]
    else:
        cmd = [["git", "checkout", e.rev, "--", "."], ["dvc", "checkout"]]
    for c in cmd:
        p = subprocess.run(c, cwd=repo, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c)} failed (files missing from the DVC cache? run `dvc pull`):\n{p.stderr}")
    r = e.record
    got = {"dataset_version": content_version([repo / s for s in splits]),
           "adapter_sha256": folder_sha256(repo / adapter)}
    bad = {k: (v, r.get(k)) for k, v in got.items() if v != r.get(k)}
    if bad:
        raise SystemExit(f"restored files differ from run {r['run_id']}'s record: {bad}")
    return f"run {r['run_id']} restored from {where(e)}: dataset {got['dataset_version']}, adapter {got['adapter_sha256']}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", type=Path, default=Path("."), help="the project's git repository")
    sub = ap.add_subparsers(dest="command", required=True, help="what to do")
    sub.add_parser("list", help="every run in any commit or experiment, newest first")
    sub.add_parser("datasets", help="every dataset version in any commit or experiment")
    r = sub.add_parser("restore", help="a run's data and adapter back in the workspace, checked byte for byte")
    r.add_argument("run_id", help="a run id or a unique prefix of one")
    r.add_argument("--splits", type=Path, nargs=3, default=[Path("data/train.jsonl"), Path("data/eval/dev.jsonl"),
                                                           Path("data/eval/test.jsonl")],
                   help="where the train, dev and test splits are restored to")
    r.add_argument("--adapter", type=Path, default=Path("outputs/adapters/current"),
                    help="where the adapter is restored to")
    r.add_argument("--force", action="store_true", help="overwrite uncommitted changes")
    a = ap.parse_args(argv)
    if a.command == "list":
        print("\n".join(list_runs(a.repo)) or "no runs committed or run as experiments yet")
    elif a.command == "datasets":
        print("\n".join(list_datasets(a.repo)) or "no dataset versions yet")
    else:
        try:
            print(restore(a.repo, a.run_id, a.splits, a.adapter, a.force))
        except LookupError as err:
            sys.exit(str(err))


if __name__ == "__main__":
    main()
