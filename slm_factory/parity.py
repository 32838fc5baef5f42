"""export_eval's logic: per-artifact figures on the eval sets, the adapter's reference, the
`export_parity` gate and its report."""

from __future__ import annotations

from pathlib import Path

from .metrics import summarize
from .rows import read_jsonl
from .spec import TaskSpec

MERGED = "merged (transformers)"


def shipped_artifacts(modelfile_quant: str) -> set[str]:
    """What a release hands out: the merged model and the GGUF the Modelfile loads."""
    return {MERGED, f"model-{modelfile_quant}.gguf"}


def figures(run, spec: TaskSpec, size_bytes: int) -> dict:
    """One artifact's run (export.ArtifactRun) -> its quality figures per set, runaway rows, size."""
    ev = spec.eval
    keys = list(dict.fromkeys(["exact_match", "json_parse_rate", ev.headline]
                              + ([f"{ev.label_field}_accuracy"] if ev.label_field else [])))
    per_set = {}
    for name, scored in run.scored.items():
        s = summarize(scored, spec)
        per_set[name] = {k: s.get(k) for k in keys}
    return {"sets": per_set, "runaway_rows": run.runaway, "size_mb": round(size_bytes / 2**20, 1)}


def speed(run) -> dict:
    """Tokens/s, seconds and peak RSS of one artifact's run (timings: no stage depends on them)."""
    return {"tokens_per_second": round(run.new_tokens / run.seconds, 1) if run.seconds else None,
            "seconds": round(run.seconds, 2), "peak_rss_mb": run.peak_rss_mb}


def reference_exact(predictions: Path, set_name: str, ids: list[str]) -> float | None:
    """The adapter's exact match (eval's per-row predictions) on exactly the rows scored here."""
    path = predictions / f"predictions_{set_name}.jsonl"
    if not path.exists():
        return None
    exact = {p["id"]: p["exact"] for p in read_jsonl(path)}
    hits = [exact[i] for i in ids if i in exact]
    return round(sum(hits) / len(hits), 4) if hits and len(hits) == len(ids) else None


def parity(artifacts: dict[str, dict], ref: float | None, judged_on: str, max_drop: float,
           shipped: set[str] | None = None) -> dict:
    """Each artifact's verdict, and the gate: every artifact passes (`shipped` only labels them)."""
    out = {}
    for name, f in artifacts.items():
        value = f["sets"].get(judged_on, {}).get("exact_match")
        drop = None if ref is None or value is None else round(ref - value, 4)
        ok = drop is not None and drop <= max_drop and f["runaway_rows"] == 0
        out[name] = {"exact_match": value, "adapter_exact_match": ref, "drop": drop,
                     "runaway_rows": f["runaway_rows"], "pass": ok,
                     "shipped": shipped is None or name in shipped}
    return {"judged_on": judged_on, "max_drop": max_drop, "artifacts": out,
            "pass": bool(out) and all(v["pass"] for v in out.values()),
            "shipped_pass": all(v["pass"] for v in out.values() if v["shipped"]) and any(v["shipped"] for v in out.values())}


def shipped_only(artifacts: dict[str, dict], gate: dict) -> dict:
    """What the release reads: the shipped artifacts' figures and verdicts, and their gate. Nothing
    about an artifact that does not ship, so a change to `export.quantizations` leaves this file, and
    so the release, as it was (the full table is export_eval's details and report)."""
    names = [n for n, v in gate["artifacts"].items() if v["shipped"]]
    return {"shipped_parity": gate["shipped_pass"],
            "parity": {"judged_on": gate["judged_on"], "max_drop": gate["max_drop"],
                       "artifacts": {n: gate["artifacts"][n] for n in names}},
            "artifacts": {n: artifacts[n] for n in names}}


def report(artifacts: dict[str, dict], gate: dict, spec: TaskSpec) -> str:
    """The parity report (markdown): every artifact's figures, then each one's verdict and the gate."""
    sets = sorted({s for f in artifacts.values() for s in f["sets"]})
    keys = list(next(iter(next(iter(artifacts.values()))["sets"].values())))
    lines = ["# Export parity", "",
             f"Every artifact on the task's eval sets, scored like `eval` (task `{spec.name}`). Gate "
             f"`export_parity`: every artifact has exact match on {gate['judged_on']} within {gate['max_drop']} "
             "of the adapter's, and no runaway row. Shipped: the merged model and the GGUF the Modelfile "
             "loads.", "",
             "| artifact | set | " + " | ".join(keys) + " |", "|---|---|" + "---:|" * len(keys)]
    for name, f in artifacts.items():
        for s in sets:
            vals = f["sets"].get(s, {})
            lines.append(f"| {name} | {s} | " + " | ".join("" if vals.get(k) is None else f"{vals[k]:.3f}"
                                                             for k in keys) + " |")
    lines += ["", "| artifact | shipped | runaway rows | size (MB) | drop vs adapter | parity |",
              "|---|---|---:|---:|---:|---|"]
    for name, f in artifacts.items():
        g = gate["artifacts"][name]
        lines.append(f"| {name} | {'yes' if g['shipped'] else 'no'} | {f['runaway_rows']} | {f['size_mb']} | "
                     f"{g['drop']} | {'PASS' if g['pass'] else 'FAIL'} |")
    lines += ["", f"export_parity: **{'PASS' if gate['pass'] else 'FAIL'}** (the shipped artifacts alone: "
              f"{'PASS' if gate['shipped_pass'] else 'FAIL'})", "",
              "Speed and peak memory per artifact: outputs/timings/export_eval.json (kept out of every stage's inputs); "
              "a benchmark with medians: bench/export_inference.py.", ""]
    return "\n".join(lines)
