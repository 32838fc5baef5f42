"""slm_factory.common: typed params, atomic JSON, the headline metrics pick, the shared cache folder."""

import json

import pytest

from slm_factory.common import load_params, pick, response_cache_dir, write_json, write_metrics
from slm_factory.config import Params, UndeclaredParam

from conftest import ROOT


def test_params_come_typed_and_only_as_declared():
    params = load_params(ROOT / "params.yaml", ("seed", "dedupe"))
    assert isinstance(params, Params) and isinstance(params.seed, int) and params.dedupe.num_perm > 0
    with pytest.raises(UndeclaredParam):
        params.train


def test_json_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "out" / "m.json"
    write_json(path, {"a": 1})
    import slm_factory.common as common

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(common.os, "replace", crash)
    with pytest.raises(OSError):
        write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}  # the old file, never half a new one


def test_the_headline_is_a_pick_of_the_details(tmp_path):
    full = {"rows": 3, "by": {"x": 1, "y": 2}, "missing": None}
    assert pick(full, ["rows", "by.y", "nope", "by.nope"]) == {"rows": 3, "by": {"y": 2}}
    write_metrics(tmp_path / "m.json", tmp_path / "d.json", full, ["by.x"])
    assert json.loads((tmp_path / "m.json").read_text()) == {"by": {"x": 1}}
    assert json.loads((tmp_path / "d.json").read_text()) == full


def test_the_cache_folder_is_outside_the_workspace_unless_given(tmp_path, monkeypatch):
    assert response_cache_dir("teacher", tmp_path) == tmp_path
    monkeypatch.setenv("SLM_FACTORY_CACHE", str(tmp_path / "c"))
    assert response_cache_dir("judge") == tmp_path / "c" / "judge"
    monkeypatch.delenv("SLM_FACTORY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert response_cache_dir("teacher") == tmp_path / "x" / "slm_factory" / "teacher"
