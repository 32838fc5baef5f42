"""slm_factory.teachers.template: the offline teacher is deterministic per seed."""

from __future__ import annotations

import json

from slm_factory.teachers.base import plan_requests
from slm_factory.teachers.template import TemplateTeacher


def test_same_seed_same_rows(spec):
    reqs = plan_requests(spec, 20)
    a = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    b = [r.text for r in TemplateTeacher(spec, 7).complete(reqs)]
    c = [r.text for r in TemplateTeacher(spec, 8).complete(reqs)]
    assert a == b and a != c
    assert all(json.loads(t)["group"] for t in a)
