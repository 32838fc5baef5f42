import json
import subprocess
from pathlib import Path

import pytest

from slm_factory.registry import content_version, file_md5, find_entry, folder_sha256, history, record_id


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def commit_record(repo: Path, record: dict, message: str) -> str:
    (repo / "registry").mkdir(exist_ok=True)
    (repo / "registry/run.json").write_text(json.dumps(record))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@localhost")
    git(tmp_path, "config", "user.name", "t")
    return tmp_path


def test_history_lists_every_record_in_commits_and_experiment_refs(repo):
    first = commit_record(repo, {"run_id": "aaa111", "v": 1}, "one")
    commit_record(repo, {"run_id": "aaa111", "v": 1}, "same run, later commit")
    # an experiment: a commit only a refs/exps ref points to, as `dvc exp run` leaves it
    (repo / "registry/run.json").write_text(json.dumps({"run_id": "bbb222", "v": 2}))
    git(repo, "add", "-A")
    tree = git(repo, "write-tree")
    exp = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "exp")
    baseline = git(repo, "rev-parse", "HEAD")
    git(repo, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/lusty-pram", exp)
    git(repo, "update-ref", "refs/exps/exec/EXEC_HEAD", exp)  # DVC's bookkeeping: not an experiment name
    git(repo, "checkout", "-q", first)  # the workspace may be anywhere: history reads every ref

    entries = history(repo, "registry/run.json", "run_id")
    assert sorted(e.record["run_id"] for e in entries) == ["aaa111", "bbb222"]
    by_id = {e.record["run_id"]: e for e in entries}
    assert by_id["bbb222"].experiment == "lusty-pram" and by_id["bbb222"].rev == exp
    assert find_entry(repo, "registry/run.json", "run_id", "bbb").rev == exp
    with pytest.raises(LookupError, match="no record"):
        find_entry(repo, "registry/run.json", "run_id", "zzz")


def test_history_skips_commits_without_the_file_and_unreadable_records(repo):
    (repo / "README").write_text("x")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no registry yet")
    (repo / "registry").mkdir()
    (repo / "registry/run.json").write_text("{not json")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "broken")
    commit_record(repo, {"run_id": "ccc333"}, "good")
    assert [e.record["run_id"] for e in history(repo, "registry/run.json", "run_id")] == ["ccc333"]


def test_ambiguous_prefix_is_an_error(repo):
    commit_record(repo, {"run_id": "abc1"}, "one")
    commit_record(repo, {"run_id": "abc2"}, "two")
    with pytest.raises(LookupError, match="ambiguous"):
        find_entry(repo, "registry/run.json", "run_id", "abc")


def test_hashes_are_of_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.bin").write_bytes(b"1")
    h = folder_sha256(tmp_path / "a")
    (tmp_path / "a/x.bin").write_bytes(b"2")
    assert folder_sha256(tmp_path / "a") != h
    f = tmp_path / "train.jsonl"
    f.write_text("{}\n")
    assert file_md5(f) == "8a80554c91d9fca8acb82f023de02f11"  # md5 of b"{}\n", what dvc.lock records
    assert len(content_version([f])) == 12
    assert record_id({"a": 1, "b": 2}, ("a",)) == record_id({"a": 1, "b": 3}, ("a",))


@pytest.fixture
def dvc_repo(repo, monkeypatch) -> Path:
    """`repo` with DVC initialised, the venv's `dvc` first on PATH (runs.py calls the CLI)."""
    import os
    import sys

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    return repo


def test_runs_says_how_to_get_missing_files_with_and_without_a_dvc_remote(dvc_repo, tmp_path):
    """`dvc pull` is the fix only where a remote exists; without one, runs.py says where the files live."""
    from conftest import load_script

    runs = load_script("runs")
    assert "no DVC remote is configured" in runs.missing_files_hint(dvc_repo)
    subprocess.run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], cwd=dvc_repo, check=True)
    assert runs.missing_files_hint(dvc_repo) == "run `dvc pull`"


def test_compare_reads_predictions_from_the_dvc_cache_and_says_so_when_they_are_gone(dvc_repo, tmp_path_factory):
    """runs.py reads a run's prediction files from git + the DVC cache; a run whose files this cache lacks
    (made on another machine, never pushed) stops with that reason and the hint, not a DVC traceback."""
    from conftest import load_script

    preds = dvc_repo / "outputs/predictions"
    preds.mkdir(parents=True)
    (preds / "predictions_dev.jsonl").write_text('{"id": "a", "exact": true}\n{"id": "b", "exact": false}\n')
    subprocess.run(["dvc", "add", "-q", "outputs/predictions"], cwd=dvc_repo, check=True)
    rev = commit_record(dvc_repo, {"run_id": "r1"}, "a run")
    runs = load_script("runs")
    assert runs._predictions(dvc_repo, rev, "outputs/predictions") == {"dev": {"a": True, "b": False}}
    clone = tmp_path_factory.mktemp("runs") / "clone"  # git's history without the DVC cache: another machine's
    subprocess.run(["git", "clone", "-q", str(dvc_repo), str(clone)], check=True)
    with pytest.raises(SystemExit, match=r"outputs/predictions at \w+ is not in the DVC cache .*no DVC remote"):
        runs._predictions(clone, rev, "outputs/predictions")
