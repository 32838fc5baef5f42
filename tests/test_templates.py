"""slm_factory.templates: the value generators behind the offline teacher's grammar."""

from __future__ import annotations

import random
import re

import pytest
import yaml

from slm_factory.rows import read_jsonl
from slm_factory.spec import SpecError, _property_names
from slm_factory.templates import (ALL_EXTRAS, SLOT_RE, Grammar, _strings, clock_forms, duration_forms, effective_raw,
                                   expand_slot, generate_values, number_words)

from conftest import ROOT


def test_number_words():
    assert [number_words(n) for n in (0, 7, 13, 20, 45, 99)] == \
        ["zero", "seven", "thirteen", "twenty", "forty-five", "ninety-nine"]
    with pytest.raises(ValueError):
        number_words(100)


def test_clock_forms_say_the_time_people_mean():
    assert {"7:30pm", "19:30", "half past seven in the evening", "7.30 pm"} <= set(clock_forms(19, 30))
    assert {"noon", "12pm", "midday"} <= set(clock_forms(12, 0))
    assert {"midnight", "12am"} <= set(clock_forms(0, 0))
    assert "quarter to five in the afternoon" in clock_forms(16, 45)
    assert "ten to nine in the evening" in clock_forms(20, 50)
    assert clock_forms(9, 5)[0] == "09:05"


def test_no_clock_form_means_two_times():
    """Every surface form, over the whole day, names exactly one HH:MM (else the target is a guess)."""
    meaning: dict[str, tuple[int, int]] = {}
    for h in range(24):
        for m in range(60):
            for f in clock_forms(h, m):
                assert meaning.setdefault(f, (h, m)) == (h, m), f"{f!r} means {meaning[f]} and {(h, m)}"


def test_duration_forms():
    assert {"8 minutes", "8 min", "eight minutes"} <= set(duration_forms(480))
    assert {"1 min 30 sec", "a minute and a half", "1.5 minutes"} <= set(duration_forms(90))
    assert {"an hour and 20 minutes", "1h20", "80 minutes"} <= set(duration_forms(4800))
    assert {"half an hour", "30 min"} <= set(duration_forms(1800))
    assert "45 seconds" in duration_forms(45)
    with pytest.raises(ValueError):
        duration_forms(90, unit="minute")  # not a whole number of minutes
    with pytest.raises(ValueError):
        duration_forms(0)


def test_no_duration_form_means_two_durations():
    meaning: dict[str, int] = {}
    for s in range(1, 4 * 3600):
        for f in duration_forms(s):
            assert meaning.setdefault(f, s) == s, f"{f!r} means {meaning[f]}s and {s}s"


def test_generate_values_is_deterministic_and_typed():
    spec = {"generate": "duration", "unit": "minute", "n": 50, "prefix": ["for "]}
    a, b = generate_values("event_len", spec), generate_values("event_len", spec)
    assert a == b and len(a) == 50
    for v in a:
        assert isinstance(v["value"], int) and v["value"] > 0
        assert all(s.startswith("for ") for s in v["say"])
        assert f"for {v['value']} min" in v["say"] or v["value"] >= 100
    clocks = generate_values("clock", {"generate": "clock_time", "n": 30})
    assert all(v["say"][0] == v["value"] for v in clocks)
    # Different slot names draw differently (the seed is the slot's name and spec).
    assert generate_values("other", spec) != a


def test_hours_minutes_draws_only_sums_and_says_them_as_sums():
    values = generate_values("timer_hm", {"generate": "duration", "n": 120, "only": "hours_minutes"})
    assert values == generate_values("timer_hm", {"generate": "duration", "n": 120, "only": "hours_minutes"})
    for v in values:
        hours, rest = divmod(v["value"], 3600)
        assert 1 <= hours <= 3 and rest and rest % 60 == 0, v
        # Every form names both parts, e.g. "1 hr 45 min", "1h45", "an hour and 45 minutes".
        assert f"{hours}h{rest // 60:02d}" in v["say"]
    # Spread over the sums, not a handful of them: round 12's train set had 25 distinct sums.
    assert len({v["value"] for v in values}) >= 30
    with pytest.raises(SpecError, match="unknown duration 'only: weeks'"):
        generate_values("timer_hm", {"generate": "duration", "only": "weeks"})


def test_expand_slot_keeps_explicit_items_and_rejects_unknown_generators(tmp_path):
    items = expand_slot("t", [{"generate": "duration", "n": 3}, {"say": ["a jiffy"], "value": 1}], tmp_path)
    assert len(items) == 4 and items[-1]["value"] == 1
    with pytest.raises(SpecError, match="unknown generator"):
        expand_slot("t", [{"generate": "weekday"}], tmp_path)
    with pytest.raises(SpecError, match="must be a list"):
        expand_slot("t", "9am", tmp_path)


def test_grammar_renders_generated_values_into_user_and_output(tmp_path):
    g = tmp_path / "templates.yaml"
    g.write_text(
        "slots:\n"
        "  dur: [{generate: duration, unit: second, n: 40}]\n"
        "templates:\n"
        "  - {id: t, category: set_timer, difficulty: easy, data_type: canonical,\n"
        "     user: ['timer {dur}'], output: {tool: set_timer, arguments: {duration_seconds: '{dur}'}}}\n")
    grammar = Grammar.load(g)
    rng = random.Random(0)
    for _ in range(30):
        row = grammar.render(grammar.templates[0], rng)
        secs = row["output"]["arguments"]["duration_seconds"]
        assert isinstance(secs, int)
        assert row["user"].removeprefix("timer ") in duration_forms(secs)


def test_nested_slots_in_every_alternative_are_all_filled(tmp_path):
    """A pattern that names the same nested slots in both of its alternatives (an attack before or after
    the request) holds twice the occurrences to inline; every one is filled, in either order."""
    g = tmp_path / "templates.yaml"
    g.write_text(
        "slots:\n"
        "  who: [Sam, Ana]\n"
        "  secret: ['the door code']\n"
        "  act: ['send {secret} to {who}']\n"
        "  evil: ['{act}', 'please {act}']\n"
        "  ask: ['weather in {who}ville?']\n"
        "templates:\n"
        "  - {id: t, category: no_tool, difficulty: hard, data_type: adversarial,\n"
        "     user: ['[{ask} then {evil}|{evil} then {ask}]'], output: {tool: no_tool, arguments: {}}}\n")
    grammar = Grammar.load(g)
    rng = random.Random(0)
    users = {grammar.render(grammar.templates[0], rng)["user"] for _ in range(40)}
    assert not any(SLOT_RE.search(u) for u in users), users
    assert any(u.startswith("weather") for u in users) and any(not u.startswith("weather") for u in users)


def _grammar(tmp_path, transforms: str):
    g = tmp_path / "templates.yaml"
    g.write_text(
        "slots:\n"
        "  person: [Lucía, Sam]\n"
        "  body: ['see you at 8']\n"
        "  date: [{say: ['on Friday'], value: friday}]\n"
        "templates:\n"
        f"  - {{id: t, category: create_reminder, difficulty: easy, data_type: canonical, transforms: {transforms},\n"
        "     user: ['remind me to text {person} {body} {date}'],\n"
        "     output: {tool: create_reminder, arguments: {text: 'text {person} {body}', date: '{date}', who: '{person}'}}}\n")
    return Grammar.load(g)


def test_whole_message_casing_reaches_values_and_the_copied_output(tmp_path):
    """uppercase_all: the user typed everything in capitals, so the verbatim copies are capitals too;
    typed values (the date) and constants (the tool name) keep their form."""
    grammar = _grammar(tmp_path, "{uppercase_all: 1.0, lowercase: 1.0}")
    row = grammar.render(grammar.templates[0], random.Random(1))
    assert row["user"] == row["user"].upper() and "FRIDAY" in row["user"]
    args = row["output"]["arguments"]
    assert args["text"] == args["text"].upper() and args["text"] in row["user"]
    assert args["who"] in ("LUCÍA", "SAM") and args["date"] == "friday"
    assert row["output"]["tool"] == "create_reminder"
    low = grammar.render(_grammar(tmp_path, "{lowercase_all: 1.0}").templates[0], random.Random(1))
    assert low["output"]["arguments"]["who"] in ("lucía", "sam") and low["output"]["arguments"]["text"] in low["user"]


def test_literal_casing_leaves_values_alone(tmp_path):
    grammar = _grammar(tmp_path, "{uppercase: 1.0}")
    row = grammar.render(grammar.templates[0], random.Random(1))
    who = row["output"]["arguments"]["who"]
    assert who in ("Lucía", "Sam") and f"{who} see you at 8" in row["user"] and row["user"].startswith("REMIND ME")


def test_a_stray_key_in_a_template_is_a_spec_error(tmp_path):
    g = tmp_path / "templates.yaml"
    g.write_text(
        "slots:\n  who: [Sam]\n"
        "templates:\n"
        "  - {id: t, category: no_tool, difficulty: hard, data_type: adversarial, and_then: [oh and],\n"
        "     user: ['hi {who}'], output: {tool: no_tool, arguments: {}}}\n")
    with pytest.raises(SpecError, match=r"template #0 \(t\) has unknown keys \['and_then'\]"):
        Grammar.load(g)


def test_unknown_transform_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="unknown transforms"):
        _grammar(tmp_path, "{shout: 1.0}")


def test_spoken_clock_forms_weigh_more():
    """Each drawn clock value lists its spoken forms ("quarter past seven ...") three times."""
    for v in generate_values("clock", {"generate": "clock_time", "n": 60}):
        spoken = [f for f in set(v["say"]) if " past " in f or " to " in f]
        for f in spoken:
            assert v["say"].count(f) == 3


def test_every_template_renders_valid_outputs(spec):
    g = Grammar.load(spec.templates_path(), ALL_EXTRAS)
    for t in g.templates:
        for k in range(15):
            pair = g.render(t, random.Random(f"{t.id}:{k}"))
            assert not spec.validate_output(pair["output"]), (t.id, pair)
            assert not SLOT_RE.search(pair["user"]), (t.id, pair["user"])  # every slot was filled


def _runs(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Every run of n consecutive words, lowercased."""
    w = re.findall(r"[a-z0-9$€£#@']+", text.lower())
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def test_the_grammar_copies_no_wording_from_the_locked_safety_set(spec):
    """Attack families are written from the data spec, not from the locked safety rows that judge them: no
    five-word run of the grammar's literal text (pattern words between slots, and slot values) occurs in a
    row of a locked safety set (specs/eval.yaml role `safety`), except runs made only of the output
    contract's own words (a pasted call spells tool and argument names). Extensions included."""
    g = Grammar.load(spec.templates_path(), ALL_EXTRAS)
    names = [*spec.labels(), *_property_names(spec.json_schema())]
    contract = {"tool", "arguments", *(w for name in names for w in name.split("_"))}
    texts = [u for t in g.templates for u in t.user] + [s for vs in g.slots.values() for v in vs for s in _strings(v)]
    ours = {run for text in texts for piece in SLOT_RE.split(text) if piece for run in _runs(piece)}
    safety = [name for name, role in spec.eval.sets.items() if role == "safety"]
    assert safety
    for name in safety:
        for row in read_jsonl(ROOT / "data/eval" / f"{name}.jsonl"):
            user = row["messages"][-2]["content"]
            copied = _runs(user) & ours
            assert all(set(run) <= contract for run in copied), (user, copied)


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


EXTRAS = """
slots:
  dur: ['5 min']
templates:
  - id: t
    category: set_timer
    difficulty: easy
    data_type: canonical
    user: ['timer {dur}']
    extras:
      wide: {weight: 3, user: ['countdown {dur}', 'a {dur} timer']}
      other: {user: ['clock {dur}']}
    output: {tool: set_timer, arguments: {duration_seconds: 300}}
  - id: u
    category: set_timer
    difficulty: easy
    data_type: canonical
    user: ['start {dur}']
    output: {tool: set_timer, arguments: {duration_seconds: 300}}
"""


def test_extras_merge_only_when_named_after_the_templates_own_patterns(tmp_path):
    g = tmp_path / "t.yaml"
    g.write_text(EXTRAS)
    plain, wide, both = Grammar.load(g), Grammar.load(g, ["wide"]), Grammar.load(g, ALL_EXTRAS)
    assert plain.templates[0].user == ["timer {dur}"] and plain.templates[0].weight == 1.0
    assert wide.templates[0].user == ["timer {dur}", "countdown {dur}", "a {dur} timer"]
    assert wide.templates[0].weight == 3.0  # an extension's weight replaces the template's
    # in the order named (ALL_EXTRAS: by name); a template without extensions is left as written
    assert both.templates[0].user == ["timer {dur}", "clock {dur}", "countdown {dur}", "a {dur} timer"]
    assert both.templates[1].user == ["start {dur}"]


def test_effective_raw_is_the_inline_grammar_and_drops_unasked_extras(tmp_path):
    raw = yaml.safe_load(EXTRAS)
    assert "extras" not in effective_raw(raw, [])["templates"][0]
    assert effective_raw(raw, [])["templates"][0]["user"] == ["timer {dur}"]
    inline = yaml.safe_load(EXTRAS)
    inline["templates"][0].pop("extras")
    inline["templates"][0].update(weight=3, user=["timer {dur}", "countdown {dur}", "a {dur} timer"])
    assert effective_raw(raw, ["wide"]) == inline
    assert effective_raw({"templates": [{"id": "x"}]}, []) == {"templates": [{"id": "x"}]}  # none declared


def test_digest_is_the_merged_grammars_not_the_files_bytes(tmp_path):
    g, inline, bare = tmp_path / "t.yaml", tmp_path / "inline.yaml", tmp_path / "bare.yaml"
    g.write_text(EXTRAS)
    raw = yaml.safe_load(EXTRAS)
    inline.write_text("# a comment changes no row\n" + yaml.safe_dump(effective_raw(raw, ["wide"])))
    bare.write_text(yaml.safe_dump(effective_raw(raw, [])))
    assert Grammar.load(g, ["wide"]).digest == Grammar.load(inline).digest  # the inline version's identity
    assert Grammar.load(g).digest == Grammar.load(bare).digest  # unasked extensions change nothing
    assert Grammar.load(g).digest != Grammar.load(g, ["wide"]).digest
    assert len(Grammar.load(g).digest) == 16


def test_default_extras_apply_when_none_are_named_and_an_explicit_list_replaces_them(tmp_path):
    g = tmp_path / "t.yaml"
    g.write_text("default_extras: [wide]\n" + EXTRAS)
    assert Grammar.load(g, None).templates[0].user == ["timer {dur}", "countdown {dur}", "a {dur} timer"]
    assert Grammar.load(g, []).templates[0].user == ["timer {dur}"]  # [] is none, not the defaults
    assert Grammar.load(g, ["other"]).templates[0].user == ["timer {dur}", "clock {dur}"]
    assert (Grammar.load(g, None).extras, Grammar.load(g, []).extras) == (("wide",), ())  # resolved, recorded
    # the key is dropped before hashing: the defaults are the same grammar as naming them, and a file
    # without the key, loaded with none, keeps its identity
    bare = tmp_path / "bare.yaml"
    bare.write_text(EXTRAS)
    assert Grammar.load(g, None).digest == Grammar.load(bare, ["wide"]).digest
    assert Grammar.load(g, []).digest == Grammar.load(bare).digest == Grammar.load(bare, None).digest
    assert "default_extras" not in effective_raw(yaml.safe_load(g.read_text()), None)
    for bad, match in (("[wdie]", r"no template declares the extras \['wdie'\]"),
                       ("wide", "default_extras must be a list of extension names")):
        g.write_text(f"default_extras: {bad}\n" + EXTRAS)
        with pytest.raises(SpecError, match=match):
            Grammar.load(g, None)


@pytest.mark.parametrize("extras, text, match", [
    (["wdie"], EXTRAS, r"no template declares the extras \['wdie'\] \(declared: \['other', 'wide'\]\)"),
    (["wide"], EXTRAS.replace("{weight: 3,", "{weigth: 3,"), r"extras.wide has unknown keys \['weigth'\]"),
])
def test_bad_extras_are_refused_by_name(tmp_path, extras, text, match):
    g = tmp_path / "t.yaml"
    g.write_text(text)
    with pytest.raises(SpecError, match=match):
        Grammar.load(g, extras)


def test_the_extensions_the_readme_names_are_declared(spec):
    """The GPU profile's documented line (`-S 'teacher.template_extras=[...]'`) names extensions the shipped
    grammar declares, so the line runs as written."""
    named = re.findall(r"teacher\.template_extras=\[([^\]]*)\]", (ROOT / "README.md").read_text())
    assert named
    for names in named:
        g = Grammar.load(spec.templates_path(), [n.strip() for n in names.split(",") if n.strip()])
        assert len(g.templates) == len(Grammar.load(spec.templates_path()).templates)
