"""slm_factory.spec: the task spec the pipeline reads."""

from __future__ import annotations

import json

from conftest import ROOT


def test_output_schema_is_in_sync_with_contract(spec):
    on_disk = json.loads((ROOT / "specs" / "output_schema.json").read_text())
    assert on_disk == spec.json_schema(), "run: python -m slm_factory.spec specs"
