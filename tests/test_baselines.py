"""slm_factory.baselines: every system is scored on every set, or skipped with its reason."""

from conftest import teacher_config, tiny_model_dir, typed_params
from slm_factory.baselines import Baselines, run_baselines


def test_base_prompted_and_rules_run_and_larger_says_why_not(tmp_path, spec, row_factory, tokenizer_dir):
    rows = [row_factory("set a timer for 5 minutes", {"tool": "set_timer", "arguments": {"duration_seconds": 300}},
                        category="set_timer"),
            row_factory("what's the weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                        category="get_weather")]
    cfg = typed_params({"baseline": {"few_shot": 1, "max_new_tokens": 4, "batch_size": 2}}).baseline
    got = run_baselines(spec, {"dev": rows}, rows, tiny_model_dir(tokenizer_dir, tmp_path / "m"), cfg,
                        teacher_config(provider="template"), seed=0)
    assert list(got.results) == ["base", "prompted", "rules", "larger"]
    assert got.results["larger"] == {"skipped": "teacher.provider is 'template': no larger model is configured"}
    assert got.results["rules"]["dev"]["exact_match"] == 1.0  # the task's rules route both requests
    assert len(got.results["prompted"]["few_shot_ids"]) == 1 and got.results["base"]["dev"]["n"] == 2
    assert set(got.scored) == {"base", "prompted", "rules"} and set(got.timings) == {"base", "prompted"}
    assert set(got.headline("exact_match")) == {"base", "prompted", "rules"}


def test_the_headline_lists_only_systems_that_ran():
    b = Baselines(results={"base": {"dev": {"n": 3, "exact_match": 0.5}, "few_shot_ids": ["x"]},
                           "larger": {"skipped": "no model"}})
    assert b.headline("exact_match") == {"base": {"dev": 0.5}}
