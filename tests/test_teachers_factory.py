"""slm_factory.teachers.factory: one class per API from one factory; a missing key is one clear error."""

from __future__ import annotations

import pytest

from slm_factory.config import ConfigError
from slm_factory.teachers.anthropic_api import AnthropicTeacher
from slm_factory.teachers.factory import llm_teacher, make_teacher
from slm_factory.teachers.llm import TeacherConfigError
from slm_factory.teachers.openai_api import OpenAICompatibleTeacher, OpenAITeacher
from slm_factory.teachers.template import TemplateTeacher

from conftest import SECRET, gen_args, load_script, params_file, teacher_config


def test_one_class_per_api_from_one_factory(spec, keys):
    assert isinstance(make_teacher(spec, teacher_config(provider="template"), 0), TemplateTeacher)
    for provider, cls in (("anthropic", AnthropicTeacher), ("openai", OpenAITeacher),
                          ("openai_compatible", OpenAICompatibleTeacher)):
        teacher = make_teacher(spec, teacher_config(provider=provider, model="m"), 0)
        assert type(teacher) is cls and teacher.identity()["provider"] == provider  # cache keys name the API
    with pytest.raises(TeacherConfigError, match="'template' is not an LLM API"):
        llm_teacher(spec, teacher_config(provider="template"), 0)
    with pytest.raises(ValueError, match="provider"):
        teacher_config(provider="gemini", model="m")  # refused when params.yaml is loaded, before any work
    bodies = {p: make_teacher(spec, teacher_config(provider=p, model="m"), 0)._body("hi", max_tokens=9)
              for p in ("anthropic", "openai", "openai_compatible")}
    assert bodies["anthropic"]["max_tokens"] == 9 and "temperature" not in bodies["anthropic"]
    assert bodies["openai"]["max_completion_tokens"] == 9 and bodies["openai_compatible"]["max_tokens"] == 9


def test_missing_key_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    params = params_file(tmp_path, {"provider": "anthropic", "model": "claude-haiku-4-5"}, 4)
    with pytest.raises(TeacherConfigError, match="ANTHROPIC_API_KEY"):
        load_script("generate").main(gen_args(tmp_path, params))
    assert not (tmp_path / "data").exists()  # failed before any work
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    params = params_file(tmp_path, {"provider": "openai_compatible", "model": "m", "api_key_env": "TOGETHER_API_KEY"}, 4)
    with pytest.raises(TeacherConfigError, match="TOGETHER_API_KEY"):
        load_script("generate").main(gen_args(tmp_path, params))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    params = params_file(tmp_path, {"provider": "openai", "model": "m", "http_client": "requests"}, 4)
    with pytest.raises(ConfigError, match="teacher.http_client: Input should be 'aiohttp' or 'httpx'"):
        load_script("generate").main(gen_args(tmp_path, params))
