"""runs: every run and dataset version across all commits and experiments, and getting one back.

    python scripts/runs.py list                 # every run: id, where, dataset, adapter, headline per set
    python scripts/runs.py datasets             # every dataset version: where, rows per split
    python scripts/runs.py restore RUN_ID       # its data and adapter back in the workspace, checked
    python scripts/runs.py compare RUN_A RUN_B  # both runs' predictions on the same rows, row by row

A run's record (registry/run.json) is written by the report stage and committed with the results, or
kept in the experiment's commit by `dvc exp run`; git is the registry's history, so nothing is
appended and DVC's run-cache stays on. `restore` applies the experiment (`dvc exp apply`) or the
commit's files (`git checkout REV -- .` + `dvc checkout`) to the workspace, HEAD unchanged, then
re-hashes the splits and the adapter against the record. Files not in the local DVC cache come from a
DVC remote (`dvc pull`); without one, only the cache of the machine that made the run holds them, and
runs.py says so instead of failing inside DVC.

`compare` reads both runs' prediction files from git and the DVC cache (nothing in the workspace
changes) and, for each eval set both scored, counts the rows only one of them gets exactly right, with
McNemar's exact test on those rows (`slm_factory.paired`): two seeds of one recipe differ by a few points,
so `dvc metrics diff` alone cannot tell a better run from a luckier one. Two runs on different data
share their golden and adversarial rows, not dev: compare dev only between runs of one dataset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from slm_factory.paired import paired, verdicts
from slm_factory.registry import content_version, find_entry, folder_sha256, history
from slm_factory.rows import read_jsonl

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


def missing_files_hint(repo: Path) -> str:
    """What to do when a run's files are not in the local DVC cache: `dvc pull` helps only with a remote."""
    p = subprocess.run(["dvc", "remote", "list"], cwd=repo, capture_output=True, text=True)
    if p.returncode == 0 and not p.stdout.strip():
        return ("no DVC remote is configured, so they exist only in the cache of the machine that made the run "
                "(`dvc remote add -d NAME URL` and `dvc push` there, then `dvc pull` here)")
    return "run `dvc pull`"


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
            raise SystemExit(f"{' '.join(c)} failed (files missing from the DVC cache? {missing_files_hint(repo)}):"
                             f"\n{p.stderr}")
    r = e.record
    got = {"dataset_version": content_version([repo / s for s in splits]),
           "adapter_sha256": folder_sha256(repo / adapter)}
    bad = {k: (v, r.get(k)) for k, v in got.items() if v != r.get(k)}
    if bad:
        raise SystemExit(f"restored files differ from run {r['run_id']}'s record: {bad}")
    return f"run {r['run_id']} restored from {where(e)}: dataset {got['dataset_version']}, adapter {got['adapter_sha256']}"


def _predictions(repo: Path, rev: str, folder: str) -> dict[str, dict[str, bool]]:
    """Each eval set's verdicts (row id -> exactly right) in `folder` (eval's predictions) at `rev`. Each
    file is copied out and read by `rows.read_jsonl`, whose lines end at '\n' alone: a request holding
    U+2028 stays one row, as in every stage."""
    from dvc.api import DVCFileSystem  # DVC's import is slow, and only `compare` needs it
    from dvc_data.index.index import DataIndexDirError  # a tracked folder whose listing is not in the cache

    fs = DVCFileSystem(str(repo), rev=rev)
    out = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sorted(n for n in fs.ls(folder, detail=False) if Path(n).name.startswith("predictions_")):
                local = Path(tmp) / Path(n).name
                fs.get_file(n, str(local))
                out[local.stem.removeprefix("predictions_")] = verdicts(read_jsonl(local))
    except (FileNotFoundError, DataIndexDirError) as err:
        raise SystemExit(f"{folder} at {rev[:10]} is not in the DVC cache ({err}): {missing_files_hint(repo)}") from err
    return out


def compare(repo: Path, first_id: str, this_id: str, folder: str) -> list[str]:
    """One line per eval set both runs scored: rows scored by both, each run's exact match on them, the
    rows only one gets right, and McNemar's exact p on those rows."""
    a, b = (find_entry(repo, RUN, "run_id", r) for r in (first_id, this_id))
    pa, pb = _predictions(repo, a.rev, folder), _predictions(repo, b.rev, folder)
    ida, idb = a.record["run_id"], b.record["run_id"]
    lines = [f"{ida} ({where(a)}) against {idb} ({where(b)}), rows exactly right:"]
    for name in sorted(pa.keys() & pb.keys()):
        c = paired(pa[name], pb[name])
        if not c["n"]:
            lines.append(f"{name}: no row in common (different data)")
            continue
        lines.append(f"{name}: {c['n']} rows, {c['first_right']} against {c['this_right']}; "
                     f"only {ida} right {c['only_first_right']}, only {idb} right {c['only_this_right']}, "
                     f"p = {c['p_sign']} (McNemar's exact test)")
    return lines


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
    c = sub.add_parser("compare", help="two runs' predictions on the rows both scored, row by row")
    c.add_argument("first", help="a run id or a unique prefix of one")
    c.add_argument("other", help="another run id or prefix, compared with the first")
    c.add_argument("--predictions", default="outputs/predictions", help="eval's predictions folder (dvc.yaml)")
    a = ap.parse_args(argv)
    if a.command == "list":
        print("\n".join(list_runs(a.repo)) or "no runs committed or run as experiments yet")
    elif a.command == "datasets":
        print("\n".join(list_datasets(a.repo)) or "no dataset versions yet")
    else:
        try:
            if a.command == "compare":
                print("\n".join(compare(a.repo, a.first, a.other, a.predictions)))
            else:
                print(restore(a.repo, a.run_id, a.splits, a.adapter, a.force))
        except LookupError as err:
            sys.exit(str(err))


if __name__ == "__main__":
    main()
