"""slm_factory.teachers.openai_api: the OpenAI and OpenAI-compatible teachers through the real SDK against a local server."""

from __future__ import annotations

import pytest

from conftest import ROOT, gen_args, gen_figures, load_script, params_file, rejected_codes
from fakes.fake_llm import FakeLLM


@pytest.mark.parametrize("provider,http_client", [("openai", "aiohttp"), ("openai_compatible", "httpx")])
def test_openai_sdk_providers(tmp_path, keys, provider, http_client):
    with FakeLLM(ROOT / "specs", faults={1: "refusal", 2: "truncated"}) as fake:
        params = params_file(tmp_path, {"provider": provider, "model": "gpt-4o-mini", "base_url": fake.url + "/v1",
                                        "http_client": http_client}, 8)
        load_script("generate").main(gen_args(tmp_path, params))
        assert {e["path"] for e in fake.log} == {"/v1/chat/completions"}
        m = gen_figures(tmp_path)
        assert m["rows"] == 4 and rejected_codes(tmp_path) == {"teacher_refused": 1, "teacher_truncated": 1}
        sent = len(fake.log)
        load_script("generate").main(gen_args(tmp_path, params))  # every response is cached, refusals included
        assert len(fake.log) == sent
        assert gen_figures(tmp_path)["cache_hits"] == 4
