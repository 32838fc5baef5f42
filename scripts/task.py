"""task: scaffold, check and extend a task folder (not a pipeline stage).

    python scripts/task.py new my_task                 # a commented, working task folder to edit
    python scripts/task.py check [examples/ticket_triage] [--fix-ids]
    python scripts/task.py add-eval lines.jsonl --set golden [--task DIR]

add-eval turns `{"input": ..., "output": {...}}` lines (optional "data_type", "difficulty",
"annotations") into eval rows with the task's system prompt and content-hash ids, appended to
DIR/data/eval/<set>.jsonl. check exits 1 and lists every problem, one line each, naming the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slm_factory.spec import SpecError, TaskSpec
from slm_factory.taskkit import add_eval, check, new_task

SCAFFOLD = Path(__file__).resolve().parents[1] / "examples" / "scaffold"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, help="what to do")
    p = sub.add_parser("new", help="copy the scaffold task to a new folder")
    p.add_argument("name", type=Path, help="the new task folder")
    p = sub.add_parser("check", help="check a task folder")
    p.add_argument("task", type=Path, nargs="?", default=Path("."), help="task folder (default: .)")
    p.add_argument("--fix-ids", action="store_true", help="rewrite eval rows whose id is not their content hash")
    p = sub.add_parser("add-eval", help="append hand-written rows to an eval set")
    p.add_argument("source", type=Path, help='JSONL of {"input": ..., "output": {...}}')
    p.add_argument("--set", required=True, help="eval set name: the rows go to data/eval/<set>.jsonl")
    p.add_argument("--task", type=Path, default=Path("."), help="task folder (default: .)")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "new":
            print(f"created {new_task(a.name, SCAFFOLD)}; edit its task.md and specs/, then "
                  f"`python scripts/task.py check {a.name}` and `dvc exp run -S task={a.name}`")
            return 0
        if a.cmd == "check":
            problems = check(a.task, a.fix_ids)
            for line in problems:
                print(line)
            print(f"{a.task}: {'ok' if not problems else f'{len(problems)} problem(s)'}", file=sys.stderr)
            return 1 if problems else 0
        spec = TaskSpec.load(a.task / "specs")
        added, skipped = add_eval(spec, a.source, a.task / "data" / "eval" / f"{a.set}.jsonl", a.set)
        print(f"added {added} rows to {a.task}/data/eval/{a.set}.jsonl ({skipped} already there)")
        return 0
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
