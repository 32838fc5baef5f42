"""Could the specialist abstain when unsure? The probability the model gives the do-nothing label at the
label position, on every row of some eval sets, and what a threshold on it would do (docs/quality.md,
Round 10).

    python bench/abstain_probe.py BASE_MODEL ADAPTER dev=data/eval/dev.jsonl golden=data/eval/golden.jsonl \
        adversarial=data/eval/adversarial.jsonl [--out probs.json]

ADAPTER `-` probes the base model alone. One forward pass per row over the eval prompt plus the answer's
opening (`{"tool":"` for the default task); the next-token distribution there is read at the first token
of each label. Rule for a threshold t: answer the negative label when its probability is >= t, else
the likeliest label. Prints, per t and set, the false refusals (a label other than the negative one was
expected) and the missed refusals (the negative one was expected). Task-agnostic: the label field and
the negative label come from specs/eval.yaml, the labels from the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

THRESHOLDS = (1.01, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01)  # 1.01: off, the model's own choice


def label_first_tokens(tok, opening: str, labels: list[str], negative: str) -> dict[str, int]:
    """Each label's first token after `opening`. Raises ValueError where the tokenizer merges the
    opening into a label, or where the negative label's first token starts another label too (its
    probability would then not be the negative label's alone)."""
    base = tok(opening, add_special_tokens=False)["input_ids"]
    first = {}
    for lab in labels:
        ids = tok(opening + lab, add_special_tokens=False)["input_ids"]
        if ids[:len(base)] != base or len(ids) == len(base):
            raise ValueError(f"the tokenizer merges {opening!r} with {lab!r}")
        first[lab] = ids[len(base)]
    if list(first.values()).count(first[negative]) > 1:
        raise ValueError(f"{negative!r} shares its first token with another label")
    return first


def sweep(scored: list[dict], negative: str, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold and set: {"threshold", "set", "false_refusals", "missed_refusals", "rows"}.
    `scored` rows: {"set", "expected", "p_negative", "likeliest"} (likeliest: the label with the highest
    probability)."""
    out = []
    for t in thresholds:
        for name in dict.fromkeys(s["set"] for s in scored):
            rows = [s for s in scored if s["set"] == name]
            says = [s["p_negative"] >= t or s["likeliest"] == negative for s in rows]
            out.append({"threshold": t, "set": name, "rows": len(rows),
                        "false_refusals": sum(y and s["expected"] != negative for y, s in zip(says, rows)),
                        "missed_refusals": sum(not y and s["expected"] == negative for y, s in zip(says, rows))})
    return out


def probe(model, tok, spec, sets: dict[str, list], batch_size: int = 16) -> list[dict]:
    """One scored dict per row (see `sweep`), with its id and every label's probability. `model, tok`
    as `modeling.load` returns them (the tokenizer pads on the left, so the last position is each row's)."""
    import torch

    from slm_factory import modeling
    from slm_factory.evaluation import messages_for

    field, negative = spec.eval.label_field, spec.eval.negative_label
    labels = sorted({json.loads(r.assistant)[field] for rows in sets.values() for r in rows} | {negative})
    opening = json.dumps({field: ""}, separators=(",", ":"))[:-2]  # '{"tool":"'
    if any(not r.assistant.startswith(opening) for rows in sets.values() for r in rows):
        raise ValueError(f"every answer must open with {opening!r}: the label is read at the first position")
    first = label_first_tokens(tok, opening, labels, negative)
    scored = []
    for name, rows in sets.items():
        for i in range(0, len(rows), batch_size):
            batch = rows[i:i + batch_size]
            prompts = [modeling.render(tok, messages_for(r, spec.system_prompt)) + opening for r in batch]
            enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                p = torch.softmax(model(**enc).logits[:, -1, :].float(), -1)
            for r, pr in zip(batch, p):
                probs = {lab: round(float(pr[t]), 5) for lab, t in first.items()}
                scored.append({"set": name, "id": r.id, "expected": json.loads(r.assistant)[field],
                               "p_negative": probs[negative], "likeliest": max(probs, key=probs.get),
                               "probs": probs})
    return scored


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base_model")
    ap.add_argument("adapter", help="a LoRA adapter folder, or - for the base model alone")
    ap.add_argument("sets", nargs="+", help="name=path.jsonl")
    ap.add_argument("--specs", default="specs")
    ap.add_argument("--out", type=Path, help="every row's probabilities (JSON lines)")
    a = ap.parse_args(argv)

    from slm_factory import modeling
    from slm_factory.rows import read_rows
    from slm_factory.spec import TaskSpec

    spec = TaskSpec.load(a.specs)
    if spec.eval.label_field is None or spec.eval.negative_label is None:
        sys.exit("the task's eval spec needs a label field and a negative_label to abstain to")
    sets = {s.split("=", 1)[0]: read_rows(Path(s.split("=", 1)[1])) for s in a.sets}
    model, tok = modeling.load(a.base_model, None if a.adapter == "-" else a.adapter)
    scored = probe(model, tok, spec, sets)
    if a.out:
        a.out.write_text("".join(json.dumps(s) + "\n" for s in scored))
    table = sweep(scored, spec.eval.negative_label)
    print("| threshold | " + " | ".join(f"{n} ({sum(s['set'] == n for s in scored)} rows)" for n in sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for t in THRESHOLDS:
        cells = [f"{c['false_refusals']} / {c['missed_refusals']}" for c in table if c["threshold"] == t]
        print(f"| {t if t <= 1 else 'off'} | " + " | ".join(cells) + " |")
    print("(false refusals / missed refusals)")


if __name__ == "__main__":
    main()
