"""export_data: the splits in the formats other trainers read, each example checked against its target's rules.

    python scripts/export_data.py --params params.yaml --specs specs --train data/train.jsonl \
        --dev data/eval/dev.jsonl --test data/eval/test.jsonl --out outputs/datasets [--formats openai sharegpt]

The stage `export_data` (params `export_data:`). Writes --out/<format>/<split>.jsonl (and the same examples as
<split>.parquet, for dataframe tools and `datasets.load_dataset("parquet")`) for every format in
`export_data.formats` (`auto`: all four the task supports; openai, openai_tools, sharegpt, alpaca: see
slm_factory/formats.py) and --out/report.json: per format and split, rows in, examples written and every
dropped row with its reasons (in = written + dropped). `openai_tools` needs a tool task (task.yaml
`args_key`); it is refused when named and left out of `auto`. --formats overrides the params for a
one-off export outside the pipeline. The JSONL files are the exact examples; in Parquet, examples whose nested
objects differ in keys (the tool schemas of `openai_tools`) share one unified struct type, so a key one example
lacks reads back as null there.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from slm_factory.common import get_logger, load_params, write_json
from slm_factory.formats import FORMATS, convert, tools_from_schema
from slm_factory.rows import read_rows, write_jsonl
from slm_factory.spec import SpecError, TaskSpec

log = get_logger("export_data")
# exactly the stage's params in dvc.yaml
PARAMS = ("export_data",)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, default=Path("specs"), help="the task's specs/ folder")
    for flag in ("--train", "--dev", "--test"):
        ap.add_argument(flag, type=Path, required=True, help=f"{flag[2:]} rows")
    ap.add_argument("--out", type=Path, required=True, help="out: one folder per format, and report.json")
    ap.add_argument("--formats", nargs="+", choices=FORMATS, help="default: export_data.formats")
    a = ap.parse_args(argv)
    cfg = load_params(a.params, PARAMS).export_data
    spec = TaskSpec.load(a.specs)
    wanted = a.formats or (None if cfg.formats == "auto" else list(cfg.formats))
    formats = wanted or [f for f in FORMATS if f != "openai_tools" or spec.args_key]
    tools = None
    if "openai_tools" in formats:
        if not spec.args_key:
            raise SpecError(f"export_data.formats: openai_tools needs a tool task, but {a.specs}/task.yaml "
                            f"names no args_key; drop openai_tools for task {spec.name}")
        tools = tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)
    splits = {"train": read_rows(a.train), "dev": read_rows(a.dev), "test": read_rows(a.test)}
    shutil.rmtree(a.out, ignore_errors=True)
    report: dict[str, dict] = {}
    for fmt in formats:
        report[fmt] = {}
        for split, rows in splits.items():
            kept, dropped = convert(rows, fmt, tools=tools, label_key=spec.label_key, args_key=spec.args_key,
                                    max_example_bytes=cfg.openai_max_tokens)
            write_jsonl(a.out / fmt / f"{split}.jsonl", kept)
            if kept:  # an empty split has no columns to write
                pq.write_table(pa.Table.from_pylist(kept), a.out / fmt / f"{split}.parquet")
            report[fmt][split] = {"rows": len(rows), "written": len(kept), "dropped": len(dropped),
                                  "dropped_rows": dropped}
            if dropped:
                log.warning("%s/%s: %d of %d rows dropped (first: %s)", fmt, split, len(dropped), len(rows),
                            dropped[0])
        log.info("%s: %s", fmt, {s: r["written"] for s, r in report[fmt].items()})
    write_json(a.out / "report.json", report)


if __name__ == "__main__":
    main()
