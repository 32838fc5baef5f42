"""A second, tiny task built from specs alone runs generate -> validate -> dedupe -> split, without any
change to scripts/ or the package: the core is task-agnostic."""

import json

import yaml

from conftest import load_script, params_with

CONTRACT = '''
from typing import Literal
from pydantic import BaseModel, ConfigDict

class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: Literal["positive", "negative", "neutral"]
'''

TEMPLATES = {
    "slots": {
        "thing": ["the pasta", "this phone", "the hotel room", "the concert", "my new shoes", "the update",
                  "the customer service", "the delivery", "this laptop", "the movie", "the coffee", "the app"],
        "good": ["amazing", "fantastic", "really good", "great value", "lovely"],
        "bad": ["awful", "broken on arrival", "a total waste of money", "terrible", "disappointing"],
    },
    "templates": [
        {"id": "pos", "category": "positive", "difficulty": "easy", "data_type": "canonical",
         "user": ["{thing} was {good}", "honestly {thing} is {good}!", "I think {thing} is {good}"],
         "output": {"label": "positive"}},
        {"id": "neg", "category": "negative", "difficulty": "easy", "data_type": "canonical",
         "user": ["{thing} was {bad}", "ugh, {thing} is {bad}", "sadly {thing} was {bad}"],
         "output": {"label": "negative"}},
        {"id": "neu", "category": "neutral", "difficulty": "easy", "data_type": "negative",
         "user": ["I bought {thing} on Tuesday", "{thing} arrived today", "is {thing} in stock?"],
         "output": {"label": "neutral"}},
    ],
}


def test_sentiment_task_from_specs_alone(tmp_path, tokenizer_dir):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "task.yaml").write_text(yaml.safe_dump({
        "name": "sentiment", "label_key": "label",
        "system_prompt": "Label the sentiment of the review as JSON.",
    }))
    (specs / "contract.py").write_text(CONTRACT)
    (specs / "quotas.yaml").write_text(yaml.safe_dump({
        "categories": {"positive": 1, "negative": 1, "neutral": 1}, "difficulties": {"easy": 1},
        "data_types": ["canonical", "negative"]}))
    (specs / "templates.yaml").write_text(yaml.safe_dump(TEMPLATES))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({
        "seed": 1, "n_examples": 60, "repair": False, "teacher": {"provider": "template"},
        "generate": {"batch_size": 25}, "validate": {"min_user_chars": 4, "max_line_bytes": 100000},
        "train": {"max_seq_length": 128},
        "dedupe": {"minhash_threshold": 0.8, "semantic_threshold": 0.97, "semantic": True},
        "split": {"train": 0.6, "dev": 0.2, "test": 0.2, "cluster_threshold": 0.99},
    })))
    d = tmp_path / "data"
    (d / "eval").mkdir(parents=True)
    load_script("generate").main(["--params", str(params), "--specs", str(specs), "--cache", str(tmp_path / "cache"),
                                  "--out", str(d / "generated"), "--rejected", str(d / "rejected/generate.jsonl"),
                                  "--metrics", str(tmp_path / "m/generate.json")])
    load_script("validate").main(["--params", str(params), "--specs", str(specs), "--generated", str(d / "generated"),
                                  "--base-model", str(tokenizer_dir), "--accepted", str(d / "accepted/validated.jsonl"),
                                  "--rejected", str(d / "rejected/validate"), "--metrics", str(tmp_path / "m/validate.json")])
    load_script("dedupe").main(["--params", str(params), "--rows", str(d / "accepted/validated.jsonl"),
                                "--out", str(d / "accepted/deduped.jsonl"), "--rejected", str(d / "rejected/dedupe.jsonl"),
                                "--rejected-root", str(d / "rejected"), "--summary", str(d / "rejected/SUMMARY.md"),
                                "--metrics", str(tmp_path / "m/dedupe.json")])
    load_script("split").main(["--params", str(params), "--rows", str(d / "accepted/deduped.jsonl"),
                               "--train", str(d / "train.jsonl"), "--dev", str(d / "eval/dev.jsonl"),
                               "--test", str(d / "eval/test.jsonl"), "--registry", str(tmp_path / "dataset.json"),
                               "--metrics", str(tmp_path / "m/split.json")])
    m = {k: json.loads((tmp_path / f"m/{k}.json").read_text()) for k in ("generate", "validate", "dedupe", "split")}
    assert m["generate"]["rows"] == 60
    assert m["validate"]["input"] == m["validate"]["accepted"] + m["validate"]["rejected"] == 60
    assert m["dedupe"]["input"] == m["validate"]["accepted"] == m["dedupe"]["kept"] + m["dedupe"]["dropped"]
    assert m["split"]["train_rows"] + m["split"]["dev_rows"] + m["split"]["test_rows"] == m["dedupe"]["kept"]
    assert m["split"]["train_rows"] > 0 and m["split"]["dev_rows"] > 0
    first = json.loads((d / "train.jsonl").read_text().splitlines()[0])
    assert json.loads(first["messages"][2]["content"])["label"] in {"positive", "negative", "neutral"}
    assert (d / "rejected/SUMMARY.md").read_text().startswith("# Rejected rows")
