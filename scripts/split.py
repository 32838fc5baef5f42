"""split: grouped, category-stratified train/dev/test split with a hard leakage check.

    python scripts/split.py --params params.yaml --rows data/accepted/deduped.jsonl \
        --locked data/eval/golden.jsonl data/eval/adversarial.jsonl --train data/train.jsonl \
        --dev data/eval/dev.jsonl --test data/eval/test.jsonl --registry registry/dataset.json \
        --metrics metrics/split.json --details outputs/details/split.json

Rows sharing a group key, or closer than `split.cluster_threshold` in embedding space, move together.
The stage fails if any train row is within the dedupe thresholds of any dev/test/locked eval row.
The dataset version (content hash of the three files) and its record go to --registry; every
version ever committed or run as an experiment is listed by `python scripts/runs.py datasets`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from slm_factory import embeddings
from slm_factory.common import get_logger, load_params, write_json, write_metrics
from slm_factory.config import as_dict
from slm_factory.dedupe import Thresholds
from slm_factory.diversity import diversity, value_casing, value_coverage
from slm_factory.registry import content_version, file_md5
from slm_factory.rows import read_rows, write_jsonl
from slm_factory.splitting import LeakageError, leakage, split_rows

log = get_logger("split")
# exactly the stage's params in dvc.yaml
PARAMS = (
    "task", "seed", "n_examples", "repair",
    # the teacher keys that shape the data (not concurrency, rate limits, retries: speed only)
    "teacher.provider", "teacher.template_draw", "teacher.template_extras", "teacher.model", "teacher.base_url",
    "teacher.mode", "teacher.temperature", "teacher.max_tokens", "teacher.rows_per_request",
    "generate", "validate", "split", "dedupe",
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--rows", type=Path, required=True, help="rows to split (dedupe's output)")
    ap.add_argument("--locked", type=Path, nargs="*", default=[],
                    help="locked eval sets (golden, adversarial, production): never dropped; a row close to one is")
    ap.add_argument("--train", type=Path, required=True, help="out: training rows")
    ap.add_argument("--dev", type=Path, required=True, help="out: dev rows")
    ap.add_argument("--test", type=Path, required=True, help="out: test rows")
    ap.add_argument("--registry", type=Path, required=True, help="out: this dataset version's record (JSON)")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg, dcfg = params.split, params.dedupe
    rows = read_rows(a.rows)
    embed = (lambda texts: embeddings.encode(dcfg.embedding_model, texts)) if dcfg.semantic else None
    emb = embed([r.prompt_text for r in rows]) if embed is not None and rows else None
    ratios = {"train": cfg.train, "dev": cfg.dev, "test": cfg.test}
    parts = split_rows(rows, ratios, params.seed, emb, cfg.cluster_threshold)

    th = Thresholds.of(dcfg)
    evals = [("dev", r) for r in parts["dev"]] + [("test", r) for r in parts["test"]]
    evals += [(p.stem, r) for p in a.locked for r in read_rows(p)]
    leaks = leakage(parts["train"], evals, th, embed)
    if leaks:
        for leak in leaks[:20]:
            log.error("leak: %s", leak)
        raise LeakageError(f"{len(leaks)} train rows are within the dedupe thresholds of eval rows; "
                           "first: " + str(leaks[0]))

    for name, path in (("train", a.train), ("dev", a.dev), ("test", a.test)):
        write_jsonl(path, parts[name])
    version = content_version([a.train, a.dev, a.test])
    counts = {s: len(v) for s, v in parts.items()}
    by_cat = {s: dict(sorted(Counter(r.provenance.category for r in v).items())) for s, v in parts.items()}
    div = {s: diversity(v) for s, v in parts.items()}
    # values dev/test answers compute from their inputs that train never shows: mostly answered wrong
    cover = {s: value_coverage(parts["train"], parts[s]) for s in ("dev", "test")}
    record = {
        "version": version, "task": params.task,
        # the md5s dvc.lock holds for the files: match a record to a lock, or check a checkout. The
        # commit is not written here (it would change the file with every commit): `scripts/runs.py
        # datasets` reads it from git, where every commit and experiment keeps its own record.
        "md5": {name: file_md5(path) for name, path in (("train", a.train), ("dev", a.dev), ("test", a.test))},
        "counts": counts, "by_category": by_cat,
        "by_data_type": dict(sorted(Counter(r.provenance.data_type for r in rows).items())),
        "generator": {"teacher": as_dict(params.teacher), "n_examples": params.n_examples,
                      "seed": params.seed, "repair": params.repair},
        "params": {k: v for k, v in as_dict(params).items() if k in ("generate", "validate", "dedupe", "split")},
        "diversity": div,
        "value_casing": value_casing(parts["train"]),
        "value_coverage": cover,
    }
    write_json(a.registry, record)
    write_metrics(a.metrics, a.details, {"dataset_version": version, **{f"{s}_rows": n for s, n in counts.items()},
                           "groups": len({r.provenance.group for r in rows}), "leaks": 0,
                           **{f"{s}_groups": d["groups"] for s, d in div.items()},
                           "train_distinct_2": div["train"]["distinct_2"],
                           **{f"{s}_values_covered": c["rows_covered"] for s, c in cover.items()},
                           "by_category": by_cat}, ["train_rows", "dev_rows", "test_rows", "train_groups"])
    log.info("dataset version %s %s", version, counts)


if __name__ == "__main__":
    main()
