"""slm_factory.card: the model card and dataset card are built from the run's records and typed params."""

import yaml

from slm_factory.card import dataset_card, model_card
from slm_factory.config import load

from conftest import ROOT, load_script

RELEASE_PARAMS = load_script("release").PARAMS  # what the release stage declares


def test_the_model_card_header_and_sections_come_from_the_records(spec):
    params = load(ROOT / "params.yaml", RELEASE_PARAMS)
    task_md = "# t\n\n## Goal\nRoute requests to tools.\n\n## Non-goals\nChit-chat.\n"
    gates = {"all_pass": False, "tool_accuracy": {"set": "test", "value": 0.9, "required": ">= 0.98", "pass": False}}
    card = model_card(task_name="tools", task_md=task_md, params=params, train={"backend": "trl", "steps": 5},
                      dataset={"version": "abc", "counts": {"train": 10, "dev": 2, "test": 2},
                               "by_category": {"train": {"set_timer": 10}}},
                      generate={"rows": 14}, validate={"rejected": 1, "input": 15}, dedupe={"dropped": 0, "input": 14},
                      comparison={"fine_tuned": {"dev": {"exact_match": 0.5}}}, columns=["exact_match"], gates=gates,
                      export=None, errors={"failures": 1, "wrong_fields": {"set_timer.duration_seconds": 1}},
                      headline="exact_match", model_name="tools-smollm2")
    header = yaml.safe_load(card.split("---")[1])
    assert header["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # the bundled copy's hub id
    assert header["license"] == params.export.license and "slm-factory" in header["tags"]
    assert "Route requests to tools." in card and "Chit-chat." in card
    assert f"rank {params.lora_rank}, alpha {params.lora_alpha}" in card
    assert f"model-{params.export.modelfile_quant}.gguf" in card
    assert "| tool_accuracy | test | 0.900 | >= 0.98 | FAIL |" in card
    assert "Most often wrong: set_timer.duration_seconds (1)." in card


def test_the_dataset_card_names_its_splits_for_datasets():
    card = dataset_card(task_name="tools", dataset={"version": "abc", "counts": {"train": 3}}, leaks=0,
                        license="apache-2.0")
    header = yaml.safe_load(card.split("---")[1])
    assert [f["split"] for f in header["configs"][0]["data_files"]] == ["train", "dev", "test"]
    assert "version `abc`" in card and "0 train rows within the dedupe thresholds" in card


def test_the_dataset_card_says_which_derived_values_train_lacks():
    cover = {"test": {"rows": 4, "rows_covered": 0.75, "fields": {
        "arguments.duration_seconds": {"derived": 3, "unseen": 1, "coverage": 0.6667, "unseen_values": ["315"]},
        "arguments.channel": {"derived": 2, "unseen": 0, "coverage": 1.0, "unseen_values": []}}}}
    card = dataset_card(task_name="tools", dataset={"version": "abc", "value_coverage": cover}, leaks=0,
                        license="apache-2.0")
    assert "train shows: test 0.75 of rows, arguments.duration_seconds 0.6667\n" in card
    assert "not measured" in dataset_card(task_name="tools", dataset={}, leaks=0, license="apache-2.0")
