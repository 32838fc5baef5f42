"""export_data: the splits in the formats other trainers read, each example checked against its target's rules.

    python scripts/export_data.py --specs specs --train data/train.jsonl --dev data/eval/dev.jsonl \
        --test data/eval/test.jsonl --out outputs/datasets [--formats openai sharegpt] [--openai-max-tokens N]

Writes --out/<format>/<split>.jsonl for every format (default: all four; openai, openai_tools, sharegpt,
alpaca: see slm_factory/formats.py) and --out/report.json: per format and split, rows in, examples
written and every dropped row with its reasons (in = written + dropped). `openai_tools` needs a tool
task (task.yaml `args_key`); it is refused when asked for by name and skipped from the default set.
A command run after `dvc repro` (like review.py), not yet a pipeline stage.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from slm_factory.common import get_logger, write_json
from slm_factory.formats import FORMATS, convert, tools_from_schema
from slm_factory.rows import read_rows, write_jsonl
from slm_factory.spec import SpecError, TaskSpec

log = get_logger("export_data")
# OpenAI's per-example training limit for gpt-4o and gpt-4o-mini (tokens; checked as UTF-8 bytes).
OPENAI_MAX_TOKENS = 65536


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--specs", type=Path, default=Path("specs"))
    for flag in ("--train", "--dev", "--test"):
        ap.add_argument(flag, type=Path, required=True, help=f"{flag[2:]} rows")
    ap.add_argument("--out", type=Path, required=True, help="out: one folder per format, and report.json")
    ap.add_argument("--formats", nargs="+", choices=FORMATS, help="default: every format the task supports")
    ap.add_argument("--openai-max-tokens", type=int, default=OPENAI_MAX_TOKENS)
    a = ap.parse_args(argv)
    spec = TaskSpec.load(a.specs)
    formats = a.formats or [f for f in FORMATS if f != "openai_tools" or spec.args_key]
    tools = None
    if "openai_tools" in formats:
        if not spec.args_key:
            raise SpecError(f"--formats: openai_tools needs a tool task, but {a.specs}/task.yaml "
                            f"names no args_key; drop openai_tools for task {spec.name}")
        tools = tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)
    splits = {"train": read_rows(a.train), "dev": read_rows(a.dev), "test": read_rows(a.test)}
    shutil.rmtree(a.out, ignore_errors=True)
    report: dict[str, dict] = {}
    for fmt in formats:
        report[fmt] = {}
        for split, rows in splits.items():
            kept, dropped = convert(rows, fmt, tools=tools, label_key=spec.label_key, args_key=spec.args_key,
                                    max_example_bytes=a.openai_max_tokens)
            write_jsonl(a.out / fmt / f"{split}.jsonl", kept)
            report[fmt][split] = {"rows": len(rows), "written": len(kept), "dropped": len(dropped),
                                  "dropped_rows": dropped}
            if dropped:
                log.warning("%s/%s: %d of %d rows dropped (first: %s)", fmt, split, len(dropped), len(rows),
                            dropped[0])
        log.info("%s: %s", fmt, {s: r["written"] for s, r in report[fmt].items()})
    write_json(a.out / "report.json", report)


if __name__ == "__main__":
    main()
