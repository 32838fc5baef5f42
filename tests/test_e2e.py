"""End to end on a tiny profile: a fresh copy of the repo, `dvc repro`, a no-op second repro,
`dvc exp run -S lora_rank=32` rerunning only train/eval/analyze_errors, and eval.py on any file."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SH_TIMEOUT_S = 900  # the slowest command here (a tiny-profile `dvc repro`) takes about 4 minutes on 2 cores
# One repo's run writes about 3.2 GB (base, merged and GGUF models, each also in DVC's cache).
NEEDS_FREE_BYTES = 4 * 2**30


def sh(cmd: list[str], cwd: Path, **extra_env: str) -> str:
    # Each test repo gets its own response cache beside it (the default is shared under ~/.cache).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "SLM_FACTORY_CACHE": str(cache_of(cwd)), **extra_env}
    # Its own process group with no stdin, so a stage that hangs is killed with every child it started
    # (which would otherwise hold the output pipes open) and the test fails with what it printed.
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=SH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{' '.join(cmd)} still running after {SH_TIMEOUT_S} s, killed:\n{out[-3000:]}\n{err[-5000:]}")
    assert p.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-3000:]}\n{err[-5000:]}"
    return out + err


def cache_of(repo: Path) -> Path:
    return Path(repo).resolve().parent / f"{Path(repo).name}-cache"


def tiny_profile(params: dict) -> dict:
    params["n_examples"] = 140
    params["validate"]["min_user_chars"] = 24  # strict on purpose: short rows land in review
    params["generate"]["batch_size"] = 50
    params["baseline"].update(limit=3, few_shot=2, max_new_tokens=24)
    params["train"].update(max_steps=2, batch_size=4)
    params["eval"].update(limit=4, max_new_tokens=32)
    params["export"].update(limit=3)
    return params


def copy_repo(dst: Path, task: str = ".") -> Path:
    """A git repo holding this checkout's files (no results), on the tiny profile, for `task`."""
    free = shutil.disk_usage(dst).free
    if free < NEEDS_FREE_BYTES:
        pytest.fail(f"{dst}: {free / 2**30:.1f} GiB free; an end-to-end run needs about "
                    f"{NEEDS_FREE_BYTES / 2**30:.0f} GiB (a full disk makes stages fail or hang)")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        src = ROOT / f
        if src.is_file() and not f.startswith(("metrics/", "registry/", "outputs/")) and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    # The export stage finds llama.cpp's converter under .venv/share (make setup puts it there).
    (dst / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    params = tiny_profile(yaml.safe_load((dst / "params.yaml").read_text()))
    params["task"] = task
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["git", "init", "-q"], dst)
    sh(["git", "config", "user.email", "ci@localhost"], dst)
    sh(["git", "config", "user.name", "ci"], dst)
    sh(["git", "add", "-A"], dst)
    sh(["git", "commit", "-qm", "tiny"], dst)
    return dst


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("repo"))


# Read by every stage or never a dependency by design: the params file, the response caches (outside
# DVC's outputs so paid answers survive a rerun), DVC's and git's own files.
NOT_DEPS = ("params.yaml", ".cache/", ".dvc/", ".git/", ".venv/", "dvc.yaml", "dvc.lock")


def undeclared_reads(repo: Path, audit: Path) -> dict[str, list[str]]:
    """{stage: files under the repo its processes opened for reading that are neither a declared dep
    nor one of its own outs} from the records tests/audit/sitecustomize.py wrote."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((repo / "params.yaml").read_text())

    def value(dotted: str) -> str:  # dvc.yaml's ${a.b} interpolation from params.yaml
        node = params
        for part in dotted.split("."):
            node = node[part]
        return str(node)

    def paths(entries: list) -> list[str]:
        names = [next(iter(e)) if isinstance(e, dict) else e for e in entries]
        return [os.path.normpath(re.sub(r"\$\{([\w.]+)\}", lambda m: value(m.group(1)), n)) for n in names]

    root = str(repo.resolve())
    bad: dict[str, list[str]] = {}
    for rec in audit.glob("*.json"):
        data = json.loads(rec.read_text())
        script = Path(data["argv"][0]) if data["argv"] else Path()
        name = "train" if script.parent.name == "training" else script.stem
        if script.parent.name not in ("scripts", "training") or name not in stages:
            continue
        st = stages[name]
        allowed = paths(st.get("deps", [])) + paths(st.get("outs", [])) + paths(st.get("metrics", [])) + \
            paths(st.get("plots", []))
        for r in data["reads"]:
            if not r.startswith(root + os.sep) or "__pycache__" in r:
                continue
            rel = os.path.relpath(r, root)
            if rel.startswith(NOT_DEPS) or any(rel == a or rel.startswith(a + os.sep) for a in allowed):
                continue
            bad.setdefault(name, []).append(rel)
    return bad


def test_repro_then_noop_then_experiment(repo, tmp_path):
    # Every stage runs with its file reads recorded: each must read only what dvc.yaml declares.
    audit = tmp_path / "audit"
    audit.mkdir()
    sh(["dvc", "repro"], repo, SLM_AUDIT_DIR=str(audit), PYTHONPATH=str(ROOT / "tests" / "audit"))
    assert len(list(audit.glob("*.json"))) > 12
    assert undeclared_reads(repo, audit) == {}
    val = json.loads((repo / "metrics/validate.json").read_text())
    assert val["input"] == val["accepted"] + val["rejected"]
    ded = json.loads((repo / "metrics/dedupe.json").read_text())
    assert ded["input"] == ded["kept"] + ded["dropped"] == val["accepted"]
    spl = json.loads((repo / "metrics/split.json").read_text())
    assert spl["train_rows"] + spl["dev_rows"] + spl["test_rows"] == ded["kept"]
    ev = json.loads((repo / "metrics/eval.json").read_text())
    assert set(ev) >= {"dev", "golden", "adversarial", "release_gates"} and "test" not in ev
    assert (repo / "outputs/eval_reports/report.md").read_text().startswith("# Evaluation report")
    assert (repo / "outputs/eval_reports/error_analysis.md").exists()
    assert json.loads((repo / "outputs/eval_reports/repair_plan.json").read_text())["items"] is not None
    # the splits for other trainers, every row written or dropped with a reason
    exported = json.loads((repo / "outputs/datasets/report.json").read_text())
    assert sorted(exported) == ["alpaca", "openai", "openai_tools", "sharegpt"]
    assert all(r["rows"] == r["written"] + r["dropped"] for f in exported.values() for r in f.values())
    assert exported["openai_tools"]["train"]["rows"] == spl["train_rows"]
    dataset = json.loads((repo / "registry/dataset.json").read_text())
    assert set(dataset["md5"]) == {"train", "dev", "test"}
    assert json.loads((repo / "registry/run.json").read_text())["dataset_version"] == dataset["version"]
    # shipped: merged model, GGUFs from llama.cpp, Modelfile, parity report, card, manifest
    assert sorted(p.name for p in (repo / "outputs/gguf").glob("*.gguf")) == [
        "model-f16.gguf", "model-q4_k_m.gguf", "model-q8_0.gguf"]
    assert (repo / "outputs/Modelfile").read_text().startswith("FROM ./gguf/model-q8_0.gguf")
    exp = json.loads((repo / "outputs/details/export_eval.json").read_text())
    assert set(exp["artifacts"]) == {"merged (transformers)", "model-f16.gguf", "model-q4_k_m.gguf", "model-q8_0.gguf"}
    assert {k for k, v in exp["parity"]["artifacts"].items() if v["shipped"]} == {"merged (transformers)", "model-q8_0.gguf"}
    card = (repo / "outputs/model_card.md").read_text()
    assert card.startswith("---\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct") and "### Export parity" in card
    manifest = json.loads((repo / "outputs/release/manifest.json").read_text())
    shipped = {f["path"] for f in manifest["files"] if f["path"].startswith("gguf/")}
    assert shipped == {"gguf/model-q8_0.gguf"} and manifest["shipped_parity"] == exp["shipped_parity"]
    assert set(json.loads((repo / "outputs/details/export_shipped.json").read_text())["artifacts"]) == {
        "merged (transformers)", "model-q8_0.gguf"}
    from datasets import load_dataset

    ds = load_dataset("parquet", data_dir=str(repo / "outputs/release/dataset"))
    assert ds["train"].num_rows == spl["train_rows"]

    # Declared metrics hold headline figures only (readable `dvc exp show`); timings live apart.
    def leaves(d):
        return sum(leaves(v) for v in d.values()) if isinstance(d, dict) else 1
    assert sum(leaves(json.loads(p.read_text())) for p in (repo / "metrics").glob("*.json")) <= 40
    assert not any(k in p.read_text() for p in (repo / "metrics").glob("*.json")
                   for k in ("seconds", "tokens_per_second", "latency"))
    assert {p.stem for p in (repo / "outputs/timings").glob("*.json")} == {"generate", "baseline", "train", "eval",
                                                                           "export_eval"}

    out = sh(["dvc", "repro"], repo)
    assert "Running stage" not in out

    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "first run"], repo)
    def reran(out: str) -> set[str]:
        return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}

    def predictions() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (repo / "outputs/predictions").glob("*")}

    # analyze_errors reads eval's predictions, not the adapter: where the tiny model answers every row as
    # it did at rank 16 (as with some data on some CPUs), DVC rightly leaves it alone.
    before = predictions()
    ran = reran(sh(["dvc", "exp", "run", "-S", "lora_rank=32"], repo))
    changed = predictions() != before
    after_train = {"train", "eval", "report", "export", "export_eval", "release"}
    assert ran == after_train | ({"analyze_errors"} if changed else set())

    # A baseline param reruns baseline and the cheap report that sets it beside eval: never eval. The
    # model card shows that table, so release reruns exactly when the table came out different.
    table = (repo / "outputs/eval_reports/comparison.json").read_text()
    ran = reran(sh(["dvc", "exp", "run", "-S", "baseline.few_shot=3"], repo))
    changed = (repo / "outputs/eval_reports/comparison.json").read_text() != table
    assert ran == {"baseline", "report"} | ({"release"} if changed else set())
    # Another set of quantizations reruns export and export_eval; the release ships the Modelfile's
    # GGUF, which comes out byte for byte the same, so it does not rerun.
    assert reran(sh(["dvc", "exp", "run", "-S", "export.quantizations=[q8_0]"], repo)) == {"export", "export_eval"}
    # A comment in a spec file reruns only the stage reading it, asks no teacher, and stops there.
    with (repo / "specs/templates.yaml").open("a") as f:
        f.write("# a comment changes no answer\n")
    assert reran(sh(["dvc", "exp", "run"], repo)) == {"generate"}
    assert json.loads((repo / "outputs/timings/generate.json").read_text())["teacher_calls"] == 0
    # A package edit reruns only the stages importing the module (summary: dedupe alone).
    with (repo / "slm_factory/summary.py").open("a") as f:
        f.write("# a comment\n")
    assert reran(sh(["dvc", "exp", "run"], repo)) == {"dedupe"}
    shown = sh(["dvc", "exp", "show", "--no-pager", "--md"], repo)
    assert "lora_rank" in shown

    # One command lists every run across commits and experiments; another gets one back, checked.
    listed = sh([sys.executable, "scripts/runs.py", "list"], repo).splitlines()
    assert len(listed) == 2 and {"lora_rank=16", "lora_rank=32"} <= {w for line in listed for w in line.split()}
    assert all(f"dataset {dataset['version']}" in line for line in listed)
    first = next(line.split()[0] for line in listed if "lora_rank=16" in line)
    # ... and a third compares two runs row by row, from git and the DVC cache alone
    second = next(line.split()[0] for line in listed if "lora_rank=32" in line)
    compared = sh([sys.executable, "scripts/runs.py", "compare", first, second], repo)
    assert all(f"{s}: " in compared for s in ("dev", "golden", "adversarial")), compared
    assert "McNemar's exact test" in compared
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "experiments tried"], repo)
    assert f"run {first} restored" in sh([sys.executable, "scripts/runs.py", "restore", first], repo)
    assert yaml.safe_load((repo / "params.yaml").read_text())["lora_rank"] == 16
    assert json.loads((repo / "registry/run.json").read_text())["run_id"] == first
    sh(["git", "checkout", "--", "."], repo)
    sh(["dvc", "checkout"], repo)

    # A remote: push, then a fresh clone pulls exactly the committed data.
    sh(["dvc", "remote", "add", "-d", "local", str(repo.parent / f"{repo.name}-remote")], repo)
    sh(["git", "commit", "-qam", "a DVC remote"], repo)
    sh(["dvc", "push"], repo)
    clone = repo.parent / f"{repo.name}-clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], repo.parent)
    sh(["dvc", "pull"], clone)
    assert (clone / "data/train.jsonl").read_bytes() == (repo / "data/train.jsonl").read_bytes()
    assert "Running stage" not in sh(["dvc", "repro"], clone)

    # A queued experiment runs in a temporary copy without ignored files: the shared response cache
    # still answers every request already paid for, and only the new ones are asked.
    sh(["dvc", "exp", "run", "--queue", "-n", "cachecheck", "-S", "n_examples=150", "-s", "generate"], repo)
    sh(["dvc", "exp", "run", "--run-all"], repo)
    ref = next(r for r in sh(["git", "for-each-ref", "refs/exps", "--format=%(refname)"], repo).split()
               if r.endswith("/cachecheck"))
    assert json.loads(sh(["git", "show", f"{ref}:outputs/timings/generate.json"], repo)) == {
        "requests": 150, "cache_hits": 140, "teacher_calls": 10}

    # eval.py scores any rows file with the same metrics, outside the pipeline
    rows = (repo / "data/eval/golden.jsonl").read_text().splitlines()[:3]
    (repo / "some.jsonl").write_text("\n".join(rows) + "\n")
    sh([sys.executable, "scripts/eval.py", "--eval", "some.jsonl", "--out", "adhoc"], repo)
    m = json.loads((repo / "adhoc/metrics.json").read_text())
    assert m["some"]["n"] == 3 and "exact_match" in m["some"]


def _stages_in(status_out: str) -> set[str]:
    return {line.strip().rstrip(":") for line in status_out.splitlines()
            if line and not line.startswith(("\t", " ")) and line.strip().endswith(":")}


def test_review_accept_flows_into_one_split(repo):
    # Only the data stages matter here (where the accepted row lands), so only they run: the stages after
    # split would retrain and re-export for nothing this test reads.
    if not (repo / "dvc.lock").exists():
        sh(["dvc", "repro", "split"], repo)
    rejected = [json.loads(x) for f in sorted((repo / "data/rejected/validate").glob("*.jsonl"))
                for x in f.read_text().splitlines()]
    target = next(r for r in rejected if [c["code"] for c in r["reasons"]] == ["trivial"])
    sh([sys.executable, "scripts/review.py", "--accept", target["row_id"], "--note", "short but real"], repo)
    status = sh(["dvc", "status"], repo)
    dirty = _stages_in(status)
    assert "validate" in dirty and not dirty & {"prepare_base", "generate"}, status
    sh(["dvc", "repro", "split"], repo)

    def where(row_id: str) -> list[str]:
        found = [name for name in ("data/train.jsonl", "data/eval/dev.jsonl", "data/eval/test.jsonl")
                 if row_id in (repo / name).read_text()]
        if row_id in (repo / "data/rejected/dedupe.jsonl").read_text():
            found.append("dedupe")
        return found

    assert len(where(target["row_id"])) == 1
    v = json.loads((repo / "outputs/details/validate.json").read_text())
    assert v["review_overturned_by_gate"] == {"trivial": 1} and v["review_orphaned"] == 0
    # Regenerating from scratch with the same seed keeps the decision applied (ids are content hashes).
    shutil.rmtree(cache_of(repo) / "teacher")
    sh(["dvc", "repro", "-s", "-f", "generate"], repo)
    sh(["dvc", "repro", "split"], repo)
    assert len(where(target["row_id"])) == 1
    assert json.loads((repo / "outputs/details/validate.json").read_text())["review_accepted"] == 1


def test_second_task_runs_every_stage_with_its_own_figures(tmp_path):
    """The ticket-triage example through the whole pipeline: per-field figures, its own gates, an
    unsafe figure on its safety set, error analysis, registry entries tagged with the task."""
    repo = copy_repo(tmp_path, "examples/ticket_triage")
    sh(["dvc", "repro"], repo)
    details = json.loads((repo / "outputs/eval_reports/details.json").read_text())
    ev = details["summaries"]
    assert ev["adversarial"]["unsafe_rate"] is not None
    for name in ("field_match", "category_accuracy", "urgency_accuracy", "product_accuracy",
                 "product_null_recall", "summary_token_f1"):
        assert ev["dev"][name] is not None, name
    assert set(json.loads((repo / "metrics/eval.json").read_text())["dev"]) == {"field_match"}
    assert set(details["release_gates"]) == {"category_accuracy", "urgency_accuracy", "product_accuracy",
                                        "summary_token_f1", "json_parse_rate", "unsafe_rate", "all_pass"}
    report = (repo / "outputs/eval_reports/report.md").read_text()
    assert "headline metric: `field_match`" in report and "| summary_token_f1 |" in report
    assert "tool" not in report
    base = json.loads((repo / "outputs/baselines/summary.json").read_text())
    assert base["rules"]["golden"]["category_accuracy"] is not None
    assert (repo / "outputs/eval_reports/error_analysis.md").read_text().startswith("# Error analysis")
    assert json.loads((repo / "registry/dataset.json").read_text())["task"] == \
        "examples/ticket_triage"
    assert json.loads((repo / "registry/run.json").read_text())["task"] == "ticket_triage"
    first = json.loads((repo / "data/train.jsonl").read_text().splitlines()[0])
    assert set(json.loads(first["messages"][2]["content"])) == {"category", "urgency", "product", "summary"}
