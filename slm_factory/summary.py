"""data/rejected/SUMMARY.md: the page a reviewer reads first."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from .rows import Rejected


def render_summary(files: dict[str, list[Rejected]], root: Path, examples_per_reason: int = 3) -> str:
    """`files` maps each rejected file (path relative to `root`) to its records."""
    all_recs = [(f, r) for f, recs in files.items() for r in recs]
    by_reason: dict[str, list[tuple[str, Rejected]]] = defaultdict(list)
    for f, r in all_recs:
        for reason in r.reasons:
            by_reason[reason.code].append((f, r))
    lines = ["# Rejected rows", "",
             f"{len(all_recs)} rejected rows in {sum(1 for v in files.values() if v)} files. "
             "Review them with `python scripts/review.py`; decisions go to data/review/decisions.jsonl.", "",
             "## Counts by reason", "", "| reason | rows | files |", "|---|---:|---|"]
    for code, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        where = Counter(f for f, _ in items)
        links = ", ".join(f"[{f}]({f}) ({n})" for f, n in sorted(where.items()))
        lines.append(f"| `{code}` | {len(items)} | {links} |")
    lines += ["", "## Files", "", "| file | rows |", "|---|---:|"]
    for f, recs in sorted(files.items()):
        lines.append(f"| [{f}]({f}) | {len(recs)} |")
    lines += ["", "## Examples", ""]
    for code, items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"### `{code}`")
        lines.append("")
        for f, r in items[:examples_per_reason]:
            reason = next(x for x in r.reasons if x.code == code)
            user = ""
            if r.row:
                msgs = r.row.get("messages") or []
                user = next((m.get("content", "") for m in msgs if isinstance(m, dict) and m.get("role") == "user"), "")
            shown = (user or r.raw or "").replace("\n", " ")[:160]
            lines.append(f"- `{r.row_id or '-'}` ({f}): {reason.message} — “{shown}”")
        lines.append("")
    return "\n".join(lines) + "\n"
