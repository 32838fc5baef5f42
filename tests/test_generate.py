import json
import random

from slm_factory.teachers.base import ResponseCache, plan_requests, smooth_round_robin
from slm_factory.teachers.template import TemplateTeacher
from slm_factory.templates import Grammar

from conftest import ROOT


def test_every_template_renders_valid_outputs(spec):
    g = Grammar.load(spec.templates_path())
    for t in g.templates:
        for k in range(15):
            pair = g.render(t, random.Random(f"{t.id}:{k}"))
            assert not spec.validate_output(pair["output"]), (t.id, pair)
            assert "{" not in pair["user"] or '"tool"' in pair["user"], (t.id, pair["user"])


def test_transforms_leave_slot_values_verbatim(tmp_path):
    (tmp_path / "t.yaml").write_text("""
slots:
  name: ["McKenzie-Ødegaard"]
templates:
  - id: t
    category: c
    difficulty: easy
    data_type: production_like
    transforms: {typo: 1.0, uppercase: 1.0, emoji: 1.0, strip_punct: 1.0}
    user: ["please message McKenzie about {name} today."]
    output: {who: "{name}"}
""")
    g = Grammar.load(tmp_path / "t.yaml")
    for k in range(10):
        pair = g.render(g.templates[0], random.Random(k))
        assert "McKenzie-Ødegaard" in pair["user"]  # the slot value is untouched
        assert pair["output"] == {"who": "McKenzie-Ødegaard"}
        # literal words were upper-cased (each literal segment gets at most two typos); the slot value was not
        assert sum(w in pair["user"] for w in ("PLEASE", "MESSAGE", "MCKENZIE", "ABOUT")) >= 2
        assert "." not in pair["user"].replace("McKenzie-Ødegaard", "")  # strip_punct hit the literal


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


def test_same_seed_same_rows(spec):
    reqs = plan_requests(spec, 20)
    a = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    b = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    c = [r.text for r in TemplateTeacher(spec, 8).complete(reqs)]
    assert a == b and a != c
    assert all(json.loads(t)["group"] for t in a)


def test_output_schema_is_in_sync_with_contract(spec):
    on_disk = json.loads((ROOT / "specs" / "output_schema.json").read_text())
    assert on_disk == spec.json_schema(), "run: python -m slm_factory.spec specs"
