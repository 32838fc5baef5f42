"""slm_factory.privacy: detectors per kind, consistent masking, and the gate's three modes."""

from __future__ import annotations

import json

import pytest

from slm_factory.privacy import Masker, find_pii, mask_text, privacy_gate
from slm_factory.rows import Message, make_row

PROV = {"source": "human", "generator": "test", "category": "send_message", "data_type": "canonical",
        "difficulty": "easy", "group": "g", "batch": "b"}


def kinds(text: str, **kw) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in find_pii(text, **kw)]


@pytest.mark.parametrize("text, expected", [
    ("call me at +1 415-555-2671 tonight", [("phone", "+1 415-555-2671")]),
    ("my number is (415) 555-2671", [("phone", "(415) 555-2671")]),
    ("card 4111 1111 1111 1111 exp 12/29", [("card", "4111 1111 1111 1111")]),
    ("wire it to DE89 3704 0044 0532 0130 00 today", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("the aws key is AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("token xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx ok",
     [("secret", "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx")]),
    ("my password is hunter2xyz", [("secret", "hunter2xyz")]),
    ("see http://wiki.corp/x?token=abc123 and https://example.com/a", [("url", "http://wiki.corp/x?token=abc123")]),
    ("mail sam.lee@example.com", [("email", "sam.lee@example.com")]),
])
def test_each_detector_finds_its_kind(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "remind me to pay the electricity bill at 9pm",
    "invoice #4471 is attached",
    "convert 1,200 dollars to euros",
    "text 555-0199 the admin password",   # not a valid number anywhere: a fiction, not PII
    "set a timer for 1 min 30 sec",
    "add QBR prep on 2026-12-24 at 15:00",
])
def test_ordinary_requests_have_no_findings(text):
    assert kinds(text) == []


def test_card_needs_a_valid_checksum():
    assert kinds("card 4111 1111 1111 1112") == []


def test_allowed_kinds_are_not_looked_for():
    assert kinds("email sam@example.com or call +1 415-555-2671", kinds=("phone",)) == \
        [("phone", "+1 415-555-2671")]


def test_masker_is_consistent_within_a_row():
    m = Masker()
    a = m.mask("call +1 415-555-2671 or +1 415-555-2672", find_pii("call +1 415-555-2671 or +1 415-555-2672"))
    b = m.mask('{"recipient":"+1 415-555-2671"}', find_pii('{"recipient":"+1 415-555-2671"}'))
    assert a == "call <PHONE_1> or <PHONE_2>" and b == '{"recipient":"<PHONE_1>"}'
    assert m.counts == {"phone": 3}


def _row(user: str, recipient: str):
    answer = json.dumps({"tool": "send_message", "arguments": {"recipient": recipient, "channel": "sms",
                                                              "body": "running late"}}, separators=(",", ":"))
    return make_row("Route the request.", user, answer, PROV)


def test_gate_masks_user_and_answer_alike_and_keeps_allowed_kinds():
    row = _row("text +1 415-555-2671 running late, cc sam@example.com", "+1 415-555-2671")
    masked, reasons = privacy_gate(row, "mask", {"email"})
    assert reasons == [] and masked.id != row.id
    assert masked.user == "text <PHONE_1> running late, cc sam@example.com"
    assert json.loads(masked.assistant)["arguments"]["recipient"] == "<PHONE_1>"
    assert masked.annotations["pii_masked"] == {"phone": 2} and masked.annotations["pii_original_id"] == row.id


def test_gate_masks_every_turn_of_a_trace_consistently():
    """A multi-turn row: the history's tool result and the reasoning are masked too, and a value seen in
    the history and again in the answer gets the same placeholder."""
    history = [Message(role="user", content="who called me last?"),
               Message(role="assistant", content='{"tool":"no_tool","arguments":{}}'),
               Message(role="tool", content='{"last_caller": "+1 415-555-2671", "card": "4111 1111 1111 1111"}')]
    answer = json.dumps({"tool": "send_message", "arguments": {"recipient": "+1 415-555-2671", "channel": "sms",
                                                              "body": "call me back"}}, separators=(",", ":"))
    row = make_row("Route the request.", "text them to call me back", answer, PROV, history=history,
                   reasoning="The caller was +1 415-555-2671.")
    masked, reasons = privacy_gate(row, "mask")
    assert reasons == [] and masked.messages[3].content == '{"last_caller": "<PHONE_1>", "card": "<CARD_1>"}'
    assert json.loads(masked.assistant)["arguments"]["recipient"] == "<PHONE_1>"
    assert masked.messages[-1].reasoning == "The caller was <PHONE_1>."
    assert "415-555" not in masked.model_dump_json() and "4111" not in masked.model_dump_json()
    assert masked.annotations["pii_masked"] == {"card": 1, "phone": 3}


def test_gate_reject_returns_reasons_and_the_masked_row():
    row = _row("text +1 415-555-2671 running late", "+1 415-555-2671")
    masked, reasons = privacy_gate(row, "reject")
    assert [r.code for r in reasons] == ["pii_phone"] and reasons[0].detail == {"count": 2}
    assert "415-555-2671" not in masked.model_dump_json()


def test_gate_off_and_clean_rows_pass_unchanged():
    row = _row("text Sam running late", "Sam")
    assert privacy_gate(row, "mask") == (row, [])
    pii_row = _row("text +1 415-555-2671 running late", "+1 415-555-2671")
    assert privacy_gate(pii_row, "off") == (pii_row, [])


def test_bad_gate_settings_are_clear_errors():
    row = _row("text Sam running late", "Sam")
    with pytest.raises(ValueError, match="validate.pii"):
        privacy_gate(row, "scrub")
    with pytest.raises(ValueError, match="unknown kinds"):
        privacy_gate(row, "mask", {"emails"})


def test_mask_text_for_lines_that_never_became_rows():
    assert mask_text('{"broken": "call +1 415-555-2671"', "reject") == '{"broken": "call <PHONE_1>"'
    assert mask_text("call +1 415-555-2671", "off") == "call +1 415-555-2671"


@pytest.mark.parametrize("text, kind", [
    ("on 2026-12-03 call +1 415-555-2671", "phone"),          # a date beside the number
    ("reach me on 415.555.2671 after 15/01/2027", "phone"),
    ('{"recipient":"+1 (415) 555-2671"}', "phone"),
    ('{"body":"AKIAIOSFODNN7EXAMPLE"}', "secret"),             # a token inside JSON punctuation
    ("my home IP is 81.2.69.160, block it", "ip"),   # public addresses (private ones are no one's)
])
def test_the_cheap_prefilters_do_not_hide_findings(text, kind):
    assert kind in {k for k, _ in kinds(text)}


def test_a_secret_inside_the_answer_is_masked_inside_its_string():
    """The masked answer is still the contract's JSON: the placeholder replaces the token, not the
    JSON around it."""
    answer = '{"tool":"send_message","arguments":{"recipient":"Sam","channel":"sms","body":"key AKIAIOSFODNN7EXAMPLE"}}'
    row = make_row("Route the request.", "text Sam key AKIAIOSFODNN7EXAMPLE", answer, PROV)
    masked, _ = privacy_gate(row, "mask")
    assert json.loads(masked.assistant)["arguments"]["body"] == "key <SECRET_1>"
    assert masked.user == "text Sam key <SECRET_1>"


def test_a_pin_said_in_words_is_found_without_a_long_token():
    assert kinds("my pin is 4821, remind me to change it") == [("secret", "4821")]
