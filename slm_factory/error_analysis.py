"""The analyze_errors stage's logic: a cause for every dev failure, clusters of failures within a
cause, and the repair plan (rows to ask for, by category and data type) those clusters call for."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np

from .diversity import unseen_values
from .gates import parse_output
from .spec import TaskSpec

# Task-agnostic wording; a task's eval.yaml `repair_hints` replaces any of these with its own words.
GENERIC_HINTS = {
    "wrong_schema": "output is not valid JSON for the contract; add schema-only and schema_repair rows",
    "too_verbose": "JSON is wrapped in prose; add rows whose answers are bare JSON under chatty inputs",
    "schema_violation": "JSON breaks the contract (unknown value, missing or mistyped field); add canonical rows",
    "wrong_label": "labels confused with each other; add near_miss rows contrasting the two labels",
    "wrong_value": "right label, wrong value of a field; add rows exercising the rule for that field",
    "unseen_value": "the right answer holds a computed value that no train answer shows (a small model learns "
                    "such values one by one); add rows whose input asks for it",
    "hallucinated_field": "fields the input never gave; add rows where optional fields are omitted",
    "refused_when_should_act": "the do-nothing answer for a valid request; add canonical and production_like rows",
    "acted_when_should_not": "an action where none applies; add negative and near_miss rows",
    "obeyed_injection": "an instruction inside the input was obeyed; add rows whose input carries one and whose answer ignores it",
    "fails_long_input": "long context derails it; add boundary rows with long preambles",
}


def hint(cause: str, spec: TaskSpec) -> str:
    base = cause.split(":")[0]
    hints = spec.eval.repair_hints
    text = hints.get(cause) or hints.get(base) or GENERIC_HINTS[base]
    return f"{text} ({cause.split(':')[1]})" if ":" in cause and cause not in hints else text


def cause_of(p: dict, spec: TaskSpec) -> str:
    """One generic cause per failed prediction (a Scored dict), most serious first."""
    ev = spec.eval
    neg = ev.negative_label
    if p.get("unsafe"):
        return "obeyed_injection"
    if len(p["user"]) > ev.long_input_chars:
        return "fails_long_input"
    if not p["parsed"]:
        obj, _ = parse_output(p["predicted"])
        return "too_verbose" if obj is not None else "wrong_schema"
    if neg is not None and p["label_predicted"] == neg and p["label_expected"] != neg:
        return "refused_when_should_act"
    if neg is not None and p["label_expected"] == neg and p["label_predicted"] != neg:
        return "acted_when_should_not"
    if ev.label_field and not p["label_correct"]:
        return "wrong_label"
    if p["hallucinated"]:
        return "hallucinated_field"
    if not p["schema_valid"]:
        return "schema_violation"
    wrong = [f for f, ok in p["field_ok"].items() if not ok]
    if not wrong:  # every field right up to normalisation/tolerance, yet not exact: name the first that differs
        exp, pred = json.loads(p["expected"]), json.loads(p["predicted"])
        wrong = [f for f in ev.fields if exp.get(f) != pred.get(f)] or list(ev.fields)
    return f"wrong_value:{wrong[0]}"


def leader_clusters(emb: np.ndarray, threshold: float) -> list[int]:
    """Deterministic single-pass clustering: join the first cluster whose leader is close enough."""
    leaders: list[int] = []
    labels = []
    for i in range(len(emb)):
        sims = emb[leaders] @ emb[i] if leaders else np.array([])
        k = int(np.argmax(sims)) if len(sims) else -1
        if k >= 0 and sims[k] >= threshold:
            labels.append(k)
        else:
            leaders.append(i)
            labels.append(len(leaders) - 1)
    return labels


def analyze(preds: list[dict], spec: TaskSpec, embed, threshold: float,
            rows_per_cluster: int, seen: set[tuple[str, str]] | None = None) -> tuple[list[dict], dict]:
    """Scored predictions (eval's dicts) -> (clusters, the repair plan): failures grouped by cause,
    then by embedding leader clustering of the user text (`embed`: texts -> normalised vectors). With
    `seen` (every (field, value) of the train answers), a wrong_value failure whose right answer holds a
    computed value that train never shows becomes `unseen_value:FIELD` (the first such field), and its
    cluster lists the values to ask for."""
    failures = [p for p in preds if not p["exact"]]
    by_cause: dict[str, list[dict]] = defaultdict(list)
    missing: dict[str, list[str]] = {}
    for p in failures:
        cause = cause_of(p, spec)
        if seen is not None and cause.startswith("wrong_value"):
            miss = unseen_values(p["expected"], p["user"], seen)
            if miss:
                cause, missing[p["id"]] = f"unseen_value:{miss[0][0]}", [v for _, v in miss]
        by_cause[cause].append(p)
    clusters = []
    for cause, items in sorted(by_cause.items(), key=lambda kv: -len(kv[1])):
        labels = leader_clusters(embed([p["user"] for p in items]), threshold) if embed else [0] * len(items)
        groups: dict[int, list[dict]] = defaultdict(list)
        for lab, p in zip(labels, items):
            groups[lab].append(p)
        for k, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            cat = Counter(p["category"] for p in members).most_common(1)[0][0]
            dtype = Counter(p["data_type"] for p in members).most_common(1)[0][0]
            clusters.append({"cause": cause, "cluster": f"{cause}-{k + 1}", "size": len(members),
                             "category": cat, "data_type": dtype,
                             "wrong_fields": dict(wrong_counter(members).most_common(3)),
                             "unseen_values": sorted({v for p in members for v in missing.get(p["id"], [])}),
                             "likely_root_cause": hint(cause, spec), "examples": members})
    plan: dict[tuple[str, str], dict] = {}
    for c in clusters:
        key = (c["category"], c["data_type"])
        item = plan.setdefault(key, {"category": key[0], "data_type": key[1], "n": 0, "causes": []})
        item["n"] += rows_per_cluster
        item["causes"].append(c["cluster"])
    return clusters, {"source": "analyze_errors on dev", "failures": len(failures), "total": len(preds),
                      "items": sorted(plan.values(), key=lambda i: -i["n"])}


def wrong_counter(rows: list[dict]) -> Counter[str]:
    """How many of `rows` (failed predictions) get each tool argument (`arg_results`, `TOOL.ARG`) and each
    field (`field_ok`) wrong. A row counts once per argument or field it gets wrong, so a wrong argument
    also counts under the field that holds it (`arguments`)."""
    wrong = Counter(a for p in rows for a, ok in p["arg_results"].items() if not ok)
    wrong.update(f for p in rows for f, ok in p["field_ok"].items() if not ok)
    return wrong


def wrong_field_counts(failures: list[dict]) -> dict[str, int]:
    """`wrong_counter` over every failure, most first, ties by name. Causes name only the first wrong
    field; this is the whole picture, which a cluster list split into many small clusters hides."""
    return dict(sorted(wrong_counter(failures).items(), key=lambda kv: (-kv[1], kv[0])))


def template_of(group: str) -> str:
    """The template family of a provenance group: the template teacher names its groups
    `TEMPLATE#PATTERN`; a group without `#` (other teachers, imports) is its own family."""
    return group.split("#")[0]


def failing_groups(preds: list[dict], group_of: dict[str, str], min_share: float, min_rows: int) -> list[dict]:
    """The held-out template groups the model gets wrong as a whole: at least `min_rows` scored rows, and a
    share of wrong rows of at least `min_share` (`group_of`: row id -> provenance.group; rows it lacks are
    skipped). The split keeps a group out of train whole, so on a model that gets most groups right such a
    group is a phrasing that train lacks: more rows of the other phrasings leave it wrong, and new patterns
    for the same intent are the remedy.
    Sorted by wrong rows, most first; each carries its first wrong row as an example."""
    by: dict[str, list[dict]] = defaultdict(list)
    for p in preds:
        if group := group_of.get(p["id"]):
            by[group].append(p)
    out = []
    for group, items in by.items():
        wrong = [p for p in items if not p["exact"]]
        if len(items) >= min_rows and len(wrong) >= min_share * len(items) and wrong:
            out.append({"group": group, "template": template_of(group), "category": items[0]["category"],
                        "rows": len(items), "wrong": len(wrong), "example": wrong[0]["user"],
                        "expected": wrong[0]["expected"], "predicted": wrong[0]["predicted"]})
    return sorted(out, key=lambda g: (-g["wrong"], g["group"]))


def report(clusters: list[dict], plan: dict, max_examples: int, groups: list[dict] = ()) -> str:
    """The error analysis as markdown: the wrong fields, the clusters, examples of each, and the repair plan."""
    lines = ["# Error analysis (dev)", "", f"{plan['failures']} failures out of {plan['total']} rows.", ""]
    if counts := wrong_field_counts([p for c in clusters for p in c["examples"]]):
        lines += ["## Wrong fields", "",
                  "Failed rows per field or tool argument they get wrong (a row counts under each; a wrong argument",
                  "also counts under the field that holds it).", "",
                  "| field or argument | failed rows |", "|---|---:|"]
        lines += [f"| {f} | {n} |" for f, n in counts.items()] + ["", "## Clusters", ""]
    lines += ["| cluster | size | category | data type | likely root cause |", "|---|---:|---|---|---|"]
    for c in clusters:
        lines.append(f"| {c['cluster']} | {c['size']} | {c['category']} | {c['data_type']} | {c['likely_root_cause']} |")
    for c in clusters:
        lines += ["", f"## {c['cluster']} ({c['size']} rows)", "", f"Likely root cause: {c['likely_root_cause']}."]
        if c["wrong_fields"]:
            lines.append(f"Most often wrong fields: {c['wrong_fields']}.")
        if c.get("unseen_values"):
            lines.append(f"Values no train answer shows: {', '.join(c['unseen_values'])}.")
        lines.append("")
        for p in c["examples"][:max_examples]:
            lines += [f"- user: `{p['user'][:200]}`", f"  - expected: `{p['expected']}`",
                      f"  - predicted: `{p['predicted'][:200]}`"]
    if groups:
        lines += ["", "## Held-out phrasings wrong as a whole", "",
                  "Each is a template group (one pattern) that train never shows, with at least half of its dev rows",
                  "wrong. Where the other groups of its category are mostly right, it is a phrasing train lacks:",
                  "new patterns for the same intent (in the template named, or a sibling) fix it, and more rows of",
                  "the other phrasings do not. Where most groups fail, look at the clusters above first.", "",
                  "| group | category | wrong / rows | example | expected | predicted |", "|---|---|---:|---|---|---|"]
        for g in groups:
            lines.append(f"| {g['group']} | {g['category']} | {g['wrong']} / {g['rows']} | `{g['example'][:80]}` "
                         f"| `{g['expected'][:160]}` | `{g['predicted'][:160]}` |")
    lines += ["", "## Repair plan", "", "| category | data type | rows | clusters |", "|---|---|---:|---|"]
    for i in plan["items"]:
        lines.append(f"| {i['category']} | {i['data_type']} | {i['n']} | {', '.join(i['causes'])} |")
    lines += ["", "Apply it: `cp outputs/eval_reports/repair_plan.json data/repair_plan.json && "
              "dvc exp run -S repair=true`", ""]
    return "\n".join(lines)
