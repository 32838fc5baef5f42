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
