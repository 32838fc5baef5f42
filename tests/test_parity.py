"""slm_factory.parity: the export_parity gate."""

from slm_factory.parity import parity


def test_parity_gate_catches_a_drop_and_runaway_rows():
    art = {"good": {"sets": {"golden": {"exact_match": 0.8}}, "runaway_rows": 0},
           "quant": {"sets": {"golden": {"exact_match": 0.7}}, "runaway_rows": 0},
           "noeos": {"sets": {"golden": {"exact_match": 0.8}}, "runaway_rows": 3}}
    gate = parity(art, 0.81, "golden", 0.02)
    assert {k: v["pass"] for k, v in gate["artifacts"].items()} == {"good": True, "quant": False, "noeos": False}
    assert gate["pass"] is False and parity(art, None, "golden", 0.02)["artifacts"]["good"]["pass"] is False
    # every artifact is judged; what ships is labelled, and judged on its own beside the gate
    only_good = parity(art, 0.81, "golden", 0.02, {"good"})
    assert only_good["pass"] is False and only_good["shipped_pass"] is True
    shipped = parity(art, 0.81, "golden", 0.02, {"good", "noeos"})
    assert shipped["shipped_pass"] is False and shipped["artifacts"]["quant"]["shipped"] is False


def test_the_release_reads_the_shipped_artifacts_alone():
    from slm_factory.parity import shipped_only

    art = {"merged": {"sets": {"golden": {"exact_match": 0.8}}, "runaway_rows": 0, "size_mb": 9},
           "q8": {"sets": {"golden": {"exact_match": 0.8}}, "runaway_rows": 0, "size_mb": 3},
           "q4": {"sets": {"golden": {"exact_match": 0.6}}, "runaway_rows": 0, "size_mb": 2}}
    view = shipped_only(art, parity(art, 0.8, "golden", 0.02, {"merged", "q8"}))
    assert view["shipped_parity"] is True and set(view["artifacts"]) == set(view["parity"]["artifacts"]) == {"merged", "q8"}
    # the other quantizations do not reach it: dropping q4 leaves the release's input as it was
    fewer = {k: v for k, v in art.items() if k != "q4"}
    assert shipped_only(fewer, parity(fewer, 0.8, "golden", 0.02, {"merged", "q8"})) == view
