"""review: walk the rejected rows by hand and record decisions that the next `dvc repro` applies.

    python scripts/review.py [BATCH] [--reason CODE]          interactive, one row at a time
    python scripts/review.py --accept ID [--note "why"]       non-interactive forms, for scripts
    python scripts/review.py --reject ID [--note "why"]

Keys: a accept · r keep rejected · e edit the answer in $EDITOR, then accept · E edit the whole row ·
s skip · q quit. Decisions go to data/review/decisions.jsonl (git-tracked, one line per record, keyed
by the content shown: a row's id, or `raw:<hash>` for a line that was no row; never an id a broken line
claims). An accept the gates could never honour (a contract or length failure) is refused: edit instead.
validate reads that file: accepted rows flow on with source `human`,
edited rows are validated like any other, and gates a person overturned are counted in its metrics.
Not a DVC stage: it reads data/rejected/ and writes only the decisions file.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from slm_factory.review import ReviewDecision, read_decisions, record_key, reviewer_name, save_decision, unoverridable
from slm_factory.rows import Rejected, Row, content_id, read_jsonl

KEYS = "[a] accept  [r] keep rejected  [e] edit answer  [E] edit row  [s] skip  [q] quit"


def load_queue(root: Path, batch: str | None = None, reason: str | None = None) -> list[tuple[str, Rejected]]:
    """Every rejected record under `root`, optionally only one batch (or file) and one reason code."""
    queue = []
    for path in sorted(root.rglob("*.jsonl")):
        rel = str(path.relative_to(root))
        for obj in read_jsonl(path):
            rec = Rejected.model_validate(obj)
            if batch and batch not in (rec.batch, path.stem, rel):
                continue
            if reason and reason not in {r.code for r in rec.reasons}:
                continue
            queue.append((rel, rec))
    return queue


def edited_row(original: dict, new_assistant: str | None = None, whole: dict | None = None) -> dict:
    """The row after an edit, with its id recomputed from the new content (review never keeps a stale id)."""
    row = json.loads(json.dumps(whole if whole is not None else original))
    if new_assistant is not None:
        row["messages"][-1]["content"] = new_assistant
    row["id"] = content_id(row["messages"])
    Row.model_validate(row)  # must still be a row; the contract is checked by validate
    return row


def run_editor(text: str, suffix: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    try:
        subprocess.call([*shlex.split(editor), path])
        return Path(path).read_text(encoding="utf-8").strip()
    finally:
        os.unlink(path)


def show(console: Console, i: int, n: int, file: str, rec: Rejected, tally: Counter) -> None:
    done = ", ".join(f"{k} {tally[k]}" for k in ("accept", "edit", "reject", "skip"))
    console.rule(f"row {i} of {n}  ·  {done}")
    reasons = Table(show_header=True, header_style="bold", expand=True)
    reasons.add_column("reason")
    reasons.add_column("explanation")
    reasons.add_column("offending part")
    for r in rec.reasons:
        reasons.add_row(r.code, r.message, json.dumps(r.detail, ensure_ascii=False)[:160])
    console.print(f"[bold]{record_key(rec)}[/]  batch {rec.batch}  file {file}  stage {rec.stage}")
    console.print(reasons)
    if rec.row:
        msgs = {m.get("role"): m.get("content", "") for m in rec.row.get("messages", []) if isinstance(m, dict)}
        prov = rec.row.get("provenance", {})
        console.print(Panel(Text(msgs.get("user", "")), title="user", title_align="left"))
        console.print(Panel(Text(msgs.get("assistant", "")), title="assistant", title_align="left"))
        console.print(f"[dim]{prov.get('category')} · {prov.get('data_type')} · {prov.get('difficulty')} · "
                      f"{prov.get('source')} · group {prov.get('group')}[/]")
    else:
        console.print(Panel(Text(rec.raw or ""), title="raw (did not parse as a row)", title_align="left"))
    console.print(KEYS, markup=False, highlight=False)


def interactive(queue: list[tuple[str, Rejected]], decisions_path: Path, console: Console, getkey) -> Counter:
    log = read_decisions(decisions_path)
    for problem in log.bad_lines:
        console.print(f"[yellow]skipped a bad decisions line: {problem}[/]")
    # a conflicted record is decided again: the new decision replaces every line about it
    todo = [(f, r) for f, r in queue if record_key(r) not in log.decisions]
    tally: Counter = Counter()
    if not todo:
        console.print("Nothing to review: every matching rejected row already has a decision.")
        return tally
    who = reviewer_name()
    for i, (file, rec) in enumerate(todo, 1):
        while True:
            show(console, i, len(todo), file, rec, tally)
            key = getkey()
            codes = [r.code for r in rec.reasons]
            if key == "q":
                console.print(f"Stopped. {dict(tally)}")
                return tally
            if key == "s":
                tally["skip"] += 1
                break
            if key == "a" and unoverridable(codes):
                console.print(f"[red]an accept can never take effect here: review cannot overrule "
                              f"{', '.join(unoverridable(codes))}. Edit the row (e/E) or keep it rejected (r).[/]")
                continue
            if key in ("a", "r"):
                save_decision(decisions_path, ReviewDecision(
                    row_id=record_key(rec), decision="accept" if key == "a" else "reject",
                    reviewer=who, reasons=codes))
                tally["accept" if key == "a" else "reject"] += 1
                break
            if (key == "e" and isinstance(rec.row, dict)) or key == "E":
                try:
                    if key == "e":
                        new = edited_row(rec.row, new_assistant=run_editor(rec.row["messages"][-1]["content"], ".json"))
                    else:
                        shown = json.dumps(rec.row, indent=2, ensure_ascii=False) if rec.row is not None else rec.raw
                        new = edited_row(rec.row or {}, whole=json.loads(run_editor(shown or "", ".json")))
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    console.print(f"[red]edit not usable: {e}[/]")
                    continue
                save_decision(decisions_path, ReviewDecision(
                    row_id=record_key(rec), decision="edit", reviewer=who, reasons=codes, edited_row=new))
                tally["edit"] += 1
                break
            console.print("[yellow]unknown key[/]")
    console.print(f"Done. {dict(tally)}")
    return tally


def decide(root: Path, decisions_path: Path, row_id: str, decision: str, note: str, rows_files: list[Path]) -> str:
    """The non-interactive --accept/--reject. The id (a record's key, as the interactive form shows it)
    must name a rejected record (or, to reject, any row); an accept that could never apply is refused."""
    rec = next((r for _, r in load_queue(root) if record_key(r) == row_id), None)
    if rec is None and decision == "reject":
        known = {o["id"] for p in rows_files if p.exists() for o in read_jsonl(p)}
        if row_id not in known:
            raise SystemExit(f"review: no row with id {row_id} in {root} or {', '.join(map(str, rows_files))}")
    elif rec is None:
        raise SystemExit(f"review: no rejected row with id {row_id} under {root}")
    if decision == "accept" and unoverridable([r.code for r in rec.reasons]):
        raise SystemExit(f"review: an accept of {row_id} could never take effect: review cannot overrule "
                         f"{', '.join(unoverridable([r.code for r in rec.reasons]))}; edit the row instead "
                         f"(the interactive form, key e or E)")
    save_decision(decisions_path, ReviewDecision(row_id=row_id, decision=decision, note=note,
                                                 reviewer=reviewer_name(),
                                                 reasons=[r.code for r in rec.reasons] if rec else []))
    return f"{decision} {row_id}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("batch", nargs="?", help="only this batch (e.g. batch_003) or file (e.g. dedupe)")
    ap.add_argument("--reason", help="only rows with this reason code")
    ap.add_argument("--accept", metavar="ID",
                    help="accept the rejected record with this key (as the interactive form shows it)")
    ap.add_argument("--reject", metavar="ID", help="reject the record or row with this key")
    ap.add_argument("--note", default="", help="why (saved with the decision)")
    ap.add_argument("--rejected-root", type=Path, default=Path("data/rejected"), help="where the rejected records are")
    ap.add_argument("--decisions", type=Path, default=Path("data/review/decisions.jsonl"),
                    help="the decisions file validate reads")
    ap.add_argument("--rows", type=Path, nargs="*", default=[Path("data/accepted/validated.jsonl")],
                    help="accepted rows that --reject may name")
    a = ap.parse_args(argv)
    if a.accept or a.reject:
        print(decide(a.rejected_root, a.decisions, a.accept or a.reject, "accept" if a.accept else "reject",
                     a.note, a.rows))
        return
    if not sys.stdin.isatty():
        raise SystemExit("review: the interactive form needs a terminal; use --accept/--reject ID in scripts")
    import click

    interactive(load_queue(a.rejected_root, a.batch, a.reason), a.decisions, Console(highlight=False), click.getchar)


if __name__ == "__main__":
    main()
