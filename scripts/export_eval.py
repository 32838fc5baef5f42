"""export_eval: the task's eval sets through every exported artifact, scored like eval, and the parity gate.

    python scripts/export_eval.py --params params.yaml --specs specs --merged outputs/merged \
        --gguf outputs/gguf --eval data/eval/dev.jsonl data/eval/golden.jsonl data/eval/adversarial.jsonl \
        --predictions outputs/predictions --report outputs/eval_reports/export_parity.md \
        --metrics metrics/export_eval.json --details outputs/details/export_eval.json \
        --shipped outputs/details/export_shipped.json --timings outputs/timings/export_eval.json

The merged model runs with transformers; each GGUF runs with llama.cpp (greedy; chat template and stop
tokens read from the file). Per artifact and set: exact match, JSON parse rate, the headline metric, the
label accuracy, runaway rows (stopped at max tokens instead of ending the turn) and file size (in
--details; tokens/s and peak RSS in --timings, which no stage reads), on the first `export.limit` rows of
each set (llama-cpp-python decodes one row at a time), except golden, which the gate judges: it is
scored on the rows eval scored (all of them by default), since on 20 rows one row is 0.05 and a 0.02
tolerance could not tell noise from loss.
Gate `export_parity`: every artifact within `export.max_drop` of the adapter's exact match on the same
golden rows (from eval's predictions), and no runaway row. The report marks which artifacts ship (the
merged model and the GGUF the Modelfile loads, `export.modelfile_quant`), so a failing extra
quantization is told apart from a failing release; --shipped holds the shipped artifacts alone, which
is all release reads (so changing the other quantizations does not rerun it). `export.strict: true`
makes a failed gate fail the stage (after writing the report).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_json
from slm_factory.evaluation import load_sets
from slm_factory.export import run_gguf, run_transformers
from slm_factory.parity import (MERGED, figures, parity, reference_exact, report, shipped_artifacts, shipped_only,
                                speed)
from slm_factory.spec import TaskSpec

log = get_logger("export_eval")
# exactly the stage's params in dvc.yaml
PARAMS = (
    "export.max_drop", "export.strict", "export.limit", "export.modelfile_quant", "eval.max_new_tokens",
    "eval.batch_size", "eval.limit",
)
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--merged", type=Path, required=True, help="export's merged model folder")
    ap.add_argument("--gguf", type=Path, required=True, help="export's GGUF folder")
    ap.add_argument("--eval", type=Path, nargs="+", required=True, help="eval sets (rows files)")
    ap.add_argument("--predictions", type=Path, required=True, help="eval's per-row predictions (the adapter's)")
    ap.add_argument("--report", type=Path, required=True, help="out: the parity report (markdown)")
    ap.add_argument("--metrics", type=Path, required=True, help="out: the gate and the worst drop (DVC metrics)")
    ap.add_argument("--details", type=Path, required=True, help="out: figures per artifact and the gate")
    ap.add_argument("--shipped", type=Path, required=True,
                    help="out: the shipped artifacts' figures and gate alone (what release reads)")
    ap.add_argument("--timings", type=Path, help="out: tokens/s and peak RSS per artifact (no stage depends on it)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg, ecfg = params.export, params.eval
    spec = TaskSpec.load(a.specs)
    sets = load_sets(list(a.eval), cfg.limit, spec)
    golden = spec.eval.set_with_role("golden") or next(iter(sets))
    whole = [p for p in a.eval if p.stem == golden]
    if whole:  # the set the gate judges: the rows eval scored (all of them, unless eval.limit says)
        sets.update(load_sets(whole, ecfg.limit, spec))
    mnt = ecfg.max_new_tokens
    artifacts: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    run = run_transformers(a.merged, sets, spec, mnt, ecfg.batch_size)
    size = sum(p.stat().st_size for p in a.merged.glob("*.safetensors"))
    artifacts[MERGED] = figures(run, spec, size)
    timings[MERGED] = speed(run)
    log.info("merged: %s in %.1f s", artifacts[MERGED]["sets"], run.seconds)
    for path in sorted(a.gguf.glob("*.gguf")):
        run = run_gguf(path, sets, spec, mnt, n_threads=os.cpu_count())
        artifacts[path.name] = figures(run, spec, path.stat().st_size)
        timings[path.name] = speed(run)
        log.info("%s: %s in %.1f s", path.name, artifacts[path.name]["sets"], run.seconds)
    ref = reference_exact(a.predictions, golden, [r.id for r in sets[golden]])
    gate = parity(artifacts, ref, golden, cfg.max_drop, shipped_artifacts(cfg.modelfile_quant))
    a.report.parent.mkdir(parents=True, exist_ok=True)
    a.report.write_text(report(artifacts, gate, spec))
    drops = [g["drop"] for g in gate["artifacts"].values() if g["drop"] is not None]
    write_json(a.metrics, {"export_parity": gate["pass"], "worst_drop": max(drops) if drops else None})
    write_json(a.details, {"export_parity": gate["pass"], "shipped_parity": gate["shipped_pass"],
                           "artifacts": artifacts, "parity": gate})
    write_json(a.shipped, shipped_only(artifacts, gate))
    if a.timings is not None:
        write_json(a.timings, timings)
    log.info("export_parity: %s", "PASS" if gate["pass"] else "FAIL")
    if cfg.strict and not gate["pass"]:
        raise SystemExit("export_eval: export_parity failed and export.strict is true (see the report)")


if __name__ == "__main__":
    main()
