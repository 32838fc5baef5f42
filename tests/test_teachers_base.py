"""slm_factory.teachers.base: the request plan, the response cache, the request tag."""

from __future__ import annotations

import json
import shutil

from slm_factory.spec import TaskSpec
from slm_factory.teachers.base import Request, ResponseCache, plan_requests, request_tag, smooth_round_robin
from slm_factory.teachers.factory import llm_teacher
from slm_factory.teachers.template import TemplateTeacher

from conftest import ROOT, teacher_config
from fakes.fake_llm import FakeLLM


def test_the_fake_server_answers_from_the_request_tag_not_the_wording(tmp_path, spec, keys):
    """A user may rewrite generate.md in any words: the stand-in server still answers each request for
    the category, data type and row count its tag names."""
    tag = request_tag(Request("main", 7, "set_timer", "hard", "noisy"), 3)
    assert tag == "(request main-7: category=set_timer difficulty=hard data_type=noisy rows=3)"
    assert FakeLLM.tag("Anything at all.\n" + tag + "\n") == (
        "main", 7, {"category": "set_timer", "difficulty": "hard", "data_type": "noisy", "rows": "3"})
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    (specs / "generation_prompts" / "generate.md").write_text("Bitte schreib {n} Beispiele, eins pro Zeile, als JSON.\n")
    own = TaskSpec.load(specs)
    with FakeLLM(specs) as fake:
        teacher = llm_teacher(own, teacher_config(provider="openai", model="m", base_url=fake.url,
                                                  rows_per_request=3), 0)
        requests = [Request("main", i, "set_timer", "easy") for i in range(2)]
        got = []
        teacher.complete(requests, lambda r, resp: got.append(resp.text))
    rows = [json.loads(line) for text in got for line in text.splitlines()]
    assert len(rows) == 6 and all(r["output"]["tool"] == "set_timer" for r in rows)


class _Planted:
    """A pickled value that would create a file when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_response_cache_is_json_and_refuses_a_planted_pickle(tmp_path):
    import json as _json
    import zlib

    import diskcache

    from slm_factory.teachers.base import Request, Response, ResponseCache

    path = tmp_path / "cache"
    cache = ResponseCache(path)
    key = ResponseCache.key({"model": "m"}, "prompt", Request("main", 0, "no_tool", "easy"))
    cache.put(key, Response(text="hello \ud800", usage={"input_tokens": 3}, stop_reason="end"))
    assert cache.get(key) == Response(text="hello \ud800", usage={"input_tokens": 3}, stop_reason="end")
    cache.close()
    # an attacker (or an older version) writes a pickle under the same key, and garbage under another
    raw = diskcache.Cache(str(path))
    raw.set(zlib.compress(_json.dumps(key).encode(), 1), _Planted(str(tmp_path / "pwned")))
    raw.set(zlib.compress(_json.dumps("k2").encode(), 1), b"\x00not zlib")
    raw.close()
    cache = ResponseCache(path)
    assert cache.get(key) is None and cache.get("k2") is None  # a miss: asked again, never a crash
    assert not (tmp_path / "pwned").exists()
    cache.put(key, Response(text="again"))
    assert cache.get(key).text == "again"
    cache.close()


def test_plan_is_prefix_stable_and_follows_quotas(spec):
    small, big = plan_requests(spec, 100), plan_requests(spec, 300)
    assert big[:100] == small
    cats = {c for c, _, _ in spec.cells()}
    assert {r.category for r in small} == cats
    assert smooth_round_robin([3, 1], 8).count(0) == 6


def test_cache_means_raising_n_only_generates_new_rows(spec, tmp_path):
    class Counting(TemplateTeacher):
        calls = 0

        def complete(self, requests, on_response=None):
            Counting.calls += len(requests)
            return super().complete(requests, on_response)

    teacher = Counting(spec, seed=1)
    cache = ResponseCache(tmp_path / "cache")

    def run(n):
        texts = []
        for r in plan_requests(spec, n):
            key = ResponseCache.key(teacher.identity(), teacher.prompt_for(r), r)
            hit = cache.get(key)
            if hit is None:
                hit = teacher.complete([r])[0]
                cache.put(key, hit)
            texts.append(hit.text)
        return texts

    first = run(50)
    assert Counting.calls == 50
    second = run(80)
    assert Counting.calls == 80 and second[:50] == first
    run(80)
    assert Counting.calls == 80
