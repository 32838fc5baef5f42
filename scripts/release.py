"""release: the model card, the dataset as a Hugging Face dataset with its card, and a manifest of
every shipped artifact (sha256, size), linked to its run in registry/release.json.

    python scripts/release.py --params params.yaml --specs specs --task-md task.md \
        --train data/train.jsonl --dev data/eval/dev.jsonl --test data/eval/test.jsonl \
        --dataset registry/dataset.json --run registry/run.json --details-dir outputs/details \
        --comparison outputs/eval_reports/comparison.json --details outputs/eval_reports/details.json \
        --export outputs/details/export_shipped.json --merged outputs/merged \
        --gguf outputs/gguf/model-q8_0.gguf \
        --modelfile outputs/Modelfile --card outputs/model_card.md --out outputs/release \
        --registry registry/release.json

Reads only what earlier stages wrote; writes the card, outputs/release/dataset/ (parquet per split +
README.md) and outputs/release/manifest.json. What ships is the merged model, the GGUF the Modelfile
loads (`export.modelfile_quant`), the Modelfile, the card and the dataset: other quantizations stay in
outputs/gguf with their figures in export_eval's report, and changing them does not rerun this stage.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from slm_factory.card import dataset_card, model_card
from slm_factory.common import get_logger, load_params, read_json, write_json
from slm_factory.export import manifest_entries
from slm_factory.rows import read_rows
from slm_factory.spec import TaskSpec

log = get_logger("release")
# exactly the stage's params in dvc.yaml
PARAMS = (
    "base_model", "lora_rank", "lora_alpha", "learning_rate", "teacher.provider", "teacher.model", "train",
    "export.license",
    "export.tags", "export.modelfile_quant",
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, what in [("--params", "params.yaml"), ("--specs", "task specs"), ("--task-md", "the task's task.md"),
                       ("--train", "train rows"), ("--dev", "dev rows"), ("--test", "test rows"),
                       ("--dataset", "split's dataset record"), ("--run", "report's run record"),
                       ("--details-dir", "folder of the stages' details files (<stage>.json)"),
                       ("--comparison", "eval's comparison table"), ("--details", "eval's details (release gates)"),
                       ("--export", "export_eval's shipped artifacts: figures and parity"),
                       ("--merged", "export's merged model"),
                       ("--gguf", "the GGUF the Modelfile loads"), ("--modelfile", "export's Modelfile"),
                       ("--card", "out: the model card"), ("--out", "out: the release folder"),
                       ("--registry", "out: this release's record")]:
        ap.add_argument(flag, type=Path, required=True, help=what)
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    spec = TaskSpec.load(a.specs)
    m = {name: read_json(a.details_dir / f"{name}.json") for name in
         ("generate", "validate", "dedupe", "split", "train", "analyze_errors")}
    shipped = read_json(a.export)
    dataset, run = read_json(a.dataset), read_json(a.run)
    gates = read_json(a.details)["release_gates"]
    card = model_card(task_name=spec.name, task_md=a.task_md.read_text(), params=params, train=m["train"],
                      dataset=dataset, generate=m["generate"], validate=m["validate"], dedupe=m["dedupe"],
                      comparison=read_json(a.comparison), columns=spec.eval.columns(), gates=gates,
                      export=shipped, errors=m["analyze_errors"], headline=spec.eval.headline,
                      model_name=f"{spec.name}-{params.base_model.split('/')[-1].split(':')[-1]}")
    a.card.parent.mkdir(parents=True, exist_ok=True)
    a.card.write_text(card)

    from datasets import Dataset

    shutil.rmtree(a.out, ignore_errors=True)
    ds_dir = a.out / "dataset"
    ds_dir.mkdir(parents=True)
    for split, path in (("train", a.train), ("dev", a.dev), ("test", a.test)):
        # annotations are free-form (often empty): Parquet has no empty struct, so they travel as JSON text
        rows = [{**r.model_dump(mode="json"), "annotations": json.dumps(r.annotations, ensure_ascii=False)}
                for r in read_rows(path)]
        Dataset.from_list(rows).to_parquet(str(ds_dir / f"{split}.parquet"))
    (ds_dir / "README.md").write_text(dataset_card(task_name=spec.name, dataset=dataset,
                                                   leaks=m["split"].get("leaks", 0),
                                                   license=params.export.license))
    root = a.card.parent
    files = manifest_entries(root, [a.merged, a.gguf, a.modelfile, a.card, ds_dir])
    manifest = {"task": spec.name, "run_id": run.get("run_id"), "dataset_version": m["split"]["dataset_version"],
                "shipped_parity": shipped["shipped_parity"], "files": files}
    write_json(a.out / "manifest.json", manifest)
    record = {"run_id": run.get("run_id"), "task": spec.name, "dataset_version": manifest["dataset_version"],
              "shipped_parity": manifest["shipped_parity"],
              "artifacts": {f["path"]: f["sha256"] for f in files if f["path"].endswith((".gguf", ".safetensors"))}}
    write_json(a.registry, {"release_id": run.get("run_id"), **record})
    log.info("release of run %s recorded in %s", run.get("run_id"), a.registry)
    log.info("%d files in the manifest; card %s", len(files), a.card)


if __name__ == "__main__":
    main()
