"""Which stages one edit reruns, and how long the rerun takes: the "what reruns what" table.

    python bench/dvc_reruns.py [--out bench/results/dvc_reruns.md] [--only TEXT]

Copies the repo (code and specs, no results) to a temporary git repo on the tests' tiny profile,
runs `dvc repro` once, commits, then for each edit: applies it, runs `dvc exp run` (params edits
through `-S`), records the stages DVC ran and the wall time, and resets the workspace to the commit
(`git checkout -- .` + `dvc checkout`). The named baseline is the full first `dvc repro` in the same
run; each row also says how much of it the edit cost. Times are one run each on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# (label, file to append a comment to, or None; `-S` overrides, or [])
EDITS = [
    ("comment in slm_factory/summary.py", "slm_factory/summary.py", []),
    ("comment in slm_factory/dedupe.py", "slm_factory/dedupe.py", []),
    ("comment in slm_factory/metrics.py", "slm_factory/metrics.py", []),
    ("comment in slm_factory/report.py", "slm_factory/report.py", []),
    ("comment in scripts/train.py", "scripts/train.py", []),
    ("comment in specs/templates.yaml", "specs/templates.yaml", []),
    ("comment in specs/rules.py", "specs/rules.py", []),
    ("comment in specs/eval.yaml", "specs/eval.yaml", []),
    ("-S baseline.few_shot=3", None, ["baseline.few_shot=3"]),
    ("-S analyze_errors.max_examples=5", None, ["analyze_errors.max_examples=5"]),
    ("-S teacher.concurrency=4", None, ["teacher.concurrency=4"]),
    ("-S export.quantizations=[q8_0]", None, ["export.quantizations=[q8_0]"]),  # the default is [q8_0, q4_k_m]
    ("-S lora_rank=32", None, ["lora_rank=32"]),
    ("-S n_examples=150", None, ["n_examples=150"]),
]


def sh(cmd: list[str], cwd: Path, env: dict) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p.stdout + p.stderr


def tiny_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        src = ROOT / f
        if src.is_file() and not f.startswith(("metrics/", "registry/", "outputs/")) and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    (dst / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    p = yaml.safe_load((dst / "params.yaml").read_text())
    p["n_examples"] = 140
    p["generate"]["batch_size"] = 50
    p["baseline"].update(limit=3, few_shot=2, max_new_tokens=24)
    p["train"].update(max_steps=2, batch_size=4)
    p["eval"].update(limit=4, max_new_tokens=32)
    p["export"].update(limit=3)
    (dst / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))


def ran(out: str) -> list[str]:
    return [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="also write the table here (markdown)")
    ap.add_argument("--only", help="run only the edits whose label contains this text (e.g. quantizations)")
    a = ap.parse_args()
    edits = [e for e in EDITS if a.only is None or a.only in e[0]]
    if not edits:
        raise SystemExit(f"no edit label contains {a.only!r}")
    with tempfile.TemporaryDirectory() as tmp:
        repo, cache = Path(tmp) / "repo", Path(tmp) / "cache"
        repo.mkdir()
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "SLM_FACTORY_CACHE": str(cache)}
        tiny_repo(repo)
        for c in (["git", "init", "-q"], ["git", "config", "user.email", "b@localhost"],
                  ["git", "config", "user.name", "bench"]):
            sh(c, repo, env)
        t0 = time.perf_counter()
        sh(["dvc", "repro"], repo, env)
        full = time.perf_counter() - t0
        sh(["git", "add", "-A"], repo, env)
        sh(["git", "commit", "-qm", "baseline"], repo, env)
        rows = []
        for label, path, overrides in edits:
            if path:
                with (repo / path).open("a") as f:
                    f.write("\n# an edit that changes nothing\n")
            t0 = time.perf_counter()
            out = sh(["dvc", "exp", "run", *[x for o in overrides for x in ("-S", o)]], repo, env)
            took = time.perf_counter() - t0
            asked = None
            timings = repo / "outputs/timings/generate.json"
            if "generate" in ran(out) and timings.exists():
                asked = json.loads(timings.read_text())["teacher_calls"]
            rows.append((label, ran(out), took, asked))
            print(f"{label}: {ran(out)} in {took:.1f} s", file=sys.stderr)
            sh(["git", "checkout", "--", "."], repo, env)
            sh(["dvc", "checkout", "-q"], repo, env)
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} cpus; tiny profile; baseline: the first full "
             f"`dvc repro`, {full:.0f} s", "",
             "| edit | stages rerun | time | vs full repro | teacher requests |", "|---|---|---:|---:|---:|"]
    for label, stages, took, asked in rows:
        lines.append(f"| {label} | {', '.join(stages) or '(none)'} | {took:.0f} s | {took / full:.2f}x | "
                     f"{'' if asked is None else asked} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(table)


if __name__ == "__main__":
    main()
