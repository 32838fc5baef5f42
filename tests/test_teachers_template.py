"""slm_factory.teachers.template: the offline teacher is deterministic per seed."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
import yaml

from conftest import ROOT
from slm_factory.spec import SpecError, TaskSpec
from slm_factory.teachers.base import plan_requests
from slm_factory.teachers.template import TemplateTeacher, rendezvous


def test_same_seed_same_rows(spec):
    reqs = plan_requests(spec, 20)
    a = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    b = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    c = [r.text for r in TemplateTeacher(spec, 8).complete(reqs)]
    assert a == b and a != c
    assert all(json.loads(t)["group"] for t in a)


def _respec(tmp_path, edit) -> TaskSpec:
    """A copy of the shipped spec with its templates.yaml changed by `edit(list_of_templates)`."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    path = tmp_path / "specs" / "templates.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["templates"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return TaskSpec.load(tmp_path / "specs")


def _rows(spec, n: int, draw: str) -> list[dict]:
    return [json.loads(r.text) for r in TemplateTeacher(spec, 7, draw).complete(plan_requests(spec, n))]


def test_rendezvous_follows_weights_and_a_removed_name_moves_only_its_keys():
    names, weights = ["a", "b", "c"], [1.0, 2.0, 1.0]
    won = [rendezvous(f"k{i}", names, weights) for i in range(4000)]
    assert abs(won.count(1) / 4000 - 0.5) < 0.03 and abs(won.count(0) / 4000 - 0.25) < 0.03
    without_c = [rendezvous(f"k{i}", ["a", "b"], [1.0, 2.0]) for i in range(4000)]
    assert all(w == v for w, v in zip(won, without_c) if w != 2)
    assert all(rendezvous(f"k{i}", names, [1.0, 0.0, 1.0]) != 1 for i in range(200))  # weight 0: never


def test_stable_draw_keeps_every_row_a_new_template_does_not_win(spec, tmp_path):
    base = _rows(spec, 600, "stable")
    assert base != _rows(spec, 600, "indexed")  # another draw, so it is a choice, not the default's rows

    def add(templates):
        first = next(t for t in templates if t["category"] == "set_timer" and t["difficulty"] == "easy")
        templates.append({**first, "id": "timer_new_family", "weight": 1,
                          "user": ["new family: a timer for {timer_dur}"]})
    grown = _rows(_respec(tmp_path, add), 600, "stable")
    changed = [(a, b) for a, b in zip(base, grown) if a != b]
    assert changed and all(b["template"] == "timer_new_family" for _, b in changed)
    assert sum(b["template"] == "timer_new_family" for b in grown) == len(changed)


def test_stable_draw_keeps_every_row_a_new_pattern_does_not_win(spec, tmp_path):
    base = _rows(spec, 600, "stable")
    target = Counter(r["template"] for r in base).most_common(1)[0][0]

    def add(templates):
        t = next(t for t in templates if t["id"] == target)
        t["user"] = [*t["user"], "a brand new wording nobody wrote before"]
    grown = _rows(_respec(tmp_path, add), 600, "stable")
    changed = [(a, b) for a, b in zip(base, grown) if a != b]
    assert changed and all(b["user"] == "a brand new wording nobody wrote before" for _, b in changed)
    # the indexed draw, for contrast, redraws most rows of that template
    before, after = _rows(spec, 600, "indexed"), _rows(_respec(tmp_path / "x", add), 600, "indexed")
    same = [a == b for a, b in zip(before, after) if a["template"] == target]
    assert sum(same) < len(same) / 2


def test_identity_names_the_draw_only_when_not_the_default(spec):
    assert "draw" not in TemplateTeacher(spec, 7).identity()
    assert TemplateTeacher(spec, 7, "stable").identity()["draw"] == "stable"
    with pytest.raises(SpecError, match="template_draw"):
        TemplateTeacher(spec, 7, "shuffled")


def test_an_unasked_extension_changes_no_row_and_no_identity(spec, tmp_path):
    """Adding an extension to the grammar leaves a run that does not name it as it was (the CPU default's
    rows and cache); naming it gives the rows and identity of the same patterns written inline."""
    target = "timer_call_format"

    def extend(templates):
        t = next(t for t in templates if t["id"] == target)
        t["extras"] = {"more": {"weight": 4, "user": ["timer of {timer_dur}, answer as {{secs: {timer_dur.value}}}"]}}

    def inline(templates):
        t = next(t for t in templates if t["id"] == target)
        t.update(weight=4, user=[*t["user"], "timer of {timer_dur}, answer as {{secs: {timer_dur.value}}}"])
    extended, written = _respec(tmp_path / "e", extend), _respec(tmp_path / "i", inline)
    reqs = plan_requests(spec, 400)
    plain = TemplateTeacher(spec, 7)
    assert [r.text for r in TemplateTeacher(extended, 7).complete(reqs)] == [r.text for r in plain.complete(reqs)]
    assert TemplateTeacher(extended, 7).identity() == plain.identity()
    more, inl = TemplateTeacher(extended, 7, extras=["more"]), TemplateTeacher(written, 7)
    assert more.identity() == inl.identity() != plain.identity()
    rows = [json.loads(r.text) for r in more.complete(reqs)]
    assert rows == [json.loads(r.text) for r in inl.complete(reqs)]
    assert any(r["user"].startswith("timer of ") for r in rows)
