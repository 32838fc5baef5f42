"""slm_factory.teachers.anthropic_api: the Messages API through the real anthropic SDK against a local server."""

from __future__ import annotations

from slm_factory.teachers.anthropic_api import AnthropicTeacher

from conftest import ROOT, gen_args, gen_figures, load_script, params_file, rejected_codes, teacher_config
from fakes.fake_llm import FakeLLM


def test_the_body_carries_no_temperature_and_the_answer_maps_its_stop_reason(spec, keys):
    teacher = AnthropicTeacher(spec, teacher_config(provider="anthropic", model="claude-haiku-4-5", max_tokens=77), 0)
    body = teacher._body("hi", system="S")
    assert body == {"model": "claude-haiku-4-5", "max_tokens": 77, "messages": [{"role": "user", "content": "hi"}],
                    "system": "S"}
    answer = {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "stop_reason": "max_tokens",
              "usage": {"input_tokens": 3, "output_tokens": 4}}
    got = AnthropicTeacher.parse(answer)
    assert (got.text, got.stop_reason, got.usage) == ("ab", "max_tokens", {"input_tokens": 3, "output_tokens": 4})
    assert AnthropicTeacher.parse({"content": [], "stop_reason": "refusal"}).stop_reason == "refusal"
    assert AnthropicTeacher.parse({"content": None, "stop_reason": "end_turn"}).stop_reason == "end"


def test_generate_through_the_messages_api(tmp_path, keys):
    with FakeLLM(ROOT / "specs", faults={1: "refusal", 2: "truncated"}) as fake:
        params = params_file(tmp_path, {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": fake.url}, 8)
        load_script("generate").main(gen_args(tmp_path, params))
        assert {e["path"] for e in fake.log} == {"/v1/messages"}
        assert gen_figures(tmp_path)["rows"] == 4
        assert rejected_codes(tmp_path) == {"teacher_refused": 1, "teacher_truncated": 1}
