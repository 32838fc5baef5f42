"""slm_factory.summary: data/rejected/SUMMARY.md counts every rejected row by reason and file."""

from pathlib import Path

from slm_factory.rows import Reason, Rejected
from slm_factory.summary import render_summary


def test_counts_by_reason_and_file_with_examples(row_factory):
    row = row_factory("remind me to call mom", {"tool": "no_tool", "arguments": {}})
    short = Rejected(stage="validate", batch="b1", row_id=row.id, row=row.model_dump(mode="json"),
                     reasons=[Reason(code="trivial", message="too short")])
    broken = Rejected(stage="validate", batch="b1", line=3, raw="{not json",
                      reasons=[Reason(code="json_invalid", message="not JSON")])
    dupe = Rejected(stage="dedupe", batch="dedupe", row_id=row.id, row=row.model_dump(mode="json"),
                    reasons=[Reason(code="trivial", message="again")])
    text = render_summary({"validate/b1.jsonl": [short, broken], "dedupe.jsonl": [dupe], "empty.jsonl": []},
                          Path("data/rejected"))
    assert "3 rejected rows in 2 files" in text
    assert "| `trivial` | 2 | [dedupe.jsonl](dedupe.jsonl) (1), [validate/b1.jsonl](validate/b1.jsonl) (1) |" in text
    assert "| `json_invalid` | 1 |" in text and "| [empty.jsonl](empty.jsonl) | 0 |" in text
    assert "“remind me to call mom”" in text and "“{not json”" in text  # the user's words, or the raw line
