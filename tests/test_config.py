from pathlib import Path

import pytest
import yaml

from slm_factory.common import load_params
from slm_factory.config import ConfigError, Dedupe, Params, Teacher, Train, UndeclaredParam, as_dict, changed, load

from conftest import ROOT

ALL = ("task", "seed", "n_examples", "repair", "base_model", "lora_rank", "lora_alpha", "learning_rate", "epochs",
       "teacher", "generate", "validate", "dedupe", "split", "baseline", "train", "eval", "export", "export_data", "ingest",
       "analyze_errors")


def write(tmp_path: Path, **changes) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_shipped_params_validate_in_full():
    p = load(ROOT / "params.yaml", ALL)
    assert p.train.max_steps > 0 and p.validate_.judge.provider is None and p.split.train == 0.7


@pytest.mark.parametrize("change, message", [
    ({"train__batch_size": 0}, "train.batch_size: Input should be greater than 0"),
    ({"teacher__provider": "gpt"}, "teacher.provider: Input should be 'template', 'anthropic'"),
    ({"split__dev": 0.5}, "split.train + split.dev + split.test must be 1"),
    ({"export__modelfile_quant": "q2_k"}, "export.modelfile_quant 'q2_k' is neither f16"),
    ({"dedupe__semantic": "yes please"}, "dedupe.semantic: Input should be a valid boolean"),
    ({"train__batch_sise": 8}, "train.batch_sise: Extra inputs are not permitted"),
    ({"eval__limit": KeyError}, "eval.limit: Field required"),
    ({"lora_rank": -4}, "lora_rank: Input should be greater than 0"),
    ({"learning_rat": 0.1}, "unknown key 'learning_rat'"),
    ({"export_data__formats": ["csv"]}, "export_data.formats"),
    ({"train__cpu_dtype": "float16"}, "train.cpu_dtype: Input should be 'float32' or 'bfloat16'"),
    ({"train__lora_layers": -1}, "train.lora_layers: Input should be greater than or equal to 0"),
    ({"ingest__format": "csv"}, "ingest.format: Input should be 'auto'"),
    ({"eval__constrained": "grammar"}, "eval.constrained"),
])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, **change), ALL)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_only_the_declared_keys_are_validated_and_returned_typed(tmp_path):
    path = write(tmp_path, train__batch_size=0)  # broken, but the dedupe stage does not read train
    got = load_params(path, ("dedupe",))
    assert isinstance(got, Params) and isinstance(got.dedupe, Dedupe) and as_dict(got).keys() == {"dedupe"}
    got = load_params(write(tmp_path), ("seed", "train.max_seq_length"))
    assert as_dict(got) == {"seed": 42, "train": {"max_seq_length": 256}}
    assert got.train.max_seq_length == 256 and isinstance(got.train, Train)
    # undeclared: a stage reading it fails, so dvc.yaml cannot fall behind the code
    with pytest.raises(UndeclaredParam, match="'teacher' .* not declared"):
        got.teacher
    with pytest.raises(UndeclaredParam, match="'batch_size' \\(Train\\)"):
        got.train.batch_size
    with pytest.raises(AttributeError):
        got.no_such_key  # not a params key at all: the usual AttributeError


def test_a_declared_sub_key_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(ConfigError, match="train.batch_sise: declared but not a key of train"):
        load(write(tmp_path), ("train.batch_sise",))


def test_a_bad_sibling_of_a_declared_key_still_stops_the_stage(tmp_path):
    with pytest.raises(ConfigError, match="train.batch_size"):
        load(write(tmp_path, train__batch_size=0), ("train.max_seq_length",))


def test_changed_revalidates():
    teacher = load(ROOT / "params.yaml", ("teacher",)).teacher
    assert changed(teacher, concurrency=3).concurrency == 3 and teacher.concurrency != 3
    with pytest.raises(ValueError, match="concurrency"):
        changed(teacher, concurrency=0)


def test_the_judge_as_a_teacher(tmp_path):
    judge = load(write(tmp_path, validate__judge__provider="openai", validate__judge__model="gpt-4o-mini"),
                 ("validate",)).validate_.judge
    t = judge.teacher()
    assert isinstance(t, Teacher) and (t.provider, t.model, t.rows_per_request, t.mode) == (
        "openai", "gpt-4o-mini", 1, "online")
    assert (t.temperature, t.max_tokens, t.concurrency) == (judge.temperature, judge.max_tokens, judge.concurrency)
    with pytest.raises(ConfigError, match="validate.judge.model is required"):
        load(write(tmp_path, validate__judge__provider="openai"), ("validate",))


def test_a_declared_group_missing_from_the_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="missing key 'analyze_errors'"):
        load(write(tmp_path, analyze_errors=KeyError), ("analyze_errors",))


def test_an_llm_teacher_needs_a_model(tmp_path):
    with pytest.raises(ConfigError, match="teacher.model is required with provider 'openai'"):
        load(write(tmp_path, teacher__provider="openai"), ("teacher",))


def test_eval_constrained_takes_true_false_or_copy(tmp_path):
    for value in (True, False, "copy"):
        assert load(write(tmp_path, eval__constrained=value), ("eval",)).eval.constrained == value
