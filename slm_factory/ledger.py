"""The ledger every filtering stage writes through: the rows it keeps, the records it rejects (each
with its reasons), and the no-loss rule checked before anything is written.

Every row that enters a stage leaves it kept or rejected-with-reason, and the counts add up: the rule
is stated once here, not re-implemented by validate, dedupe and generate. Rows and records carry a
`part` (the output file they belong to, e.g. an input batch), in the order they were recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .rows import Rejected, Row, write_jsonl, write_jsonl_dir


class RowsLost(AssertionError):
    """input != kept + rejected: a bug in the stage, never a property of the data."""


@dataclass
class Ledger:
    stage: str
    kept: list[tuple[str, Row]] = field(default_factory=list)
    rejected: list[tuple[str, Rejected]] = field(default_factory=list)

    def keep(self, row: Row, part: str = "") -> None:
        self.kept.append((part, row))

    def reject(self, record: Rejected, part: str = "") -> None:
        if not record.reasons:
            raise ValueError(f"{self.stage}: a rejected record must say why (row {record.row_id})")
        self.rejected.append((part, record))

    def kept_rows(self) -> list[Row]:
        return [r for _, r in self.kept]

    def rejected_records(self) -> list[Rejected]:
        return [r for _, r in self.rejected]

    def rejected_parts(self, parts: list[str] = ()) -> dict[str, list[Rejected]]:
        """Rejected records by part; every name in `parts` is present, even when it rejected nothing."""
        out: dict[str, list[Rejected]] = {p: [] for p in parts}
        for p, r in self.rejected:
            out.setdefault(p, []).append(r)
        return out

    def kept_parts(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for p, r in self.kept:
            out.setdefault(p, []).append(r)
        return out

    def reason_counts(self, first_only: bool = False) -> dict[str, int]:
        """Rejections by reason code: every reason of every record, or only each record's first."""
        codes = (c for _, r in self.rejected for c in ([r.reasons[0].code] if first_only else
                                                       [x.code for x in r.reasons]))
        return dict(sorted(Counter(codes).items()))

    def check(self, n_input: int) -> None:
        if n_input != len(self.kept) + len(self.rejected):
            raise RowsLost(f"{self.stage} lost rows: input {n_input} != kept {len(self.kept)} + "
                           f"rejected {len(self.rejected)}")

    def write(self, kept: Path, rejected: Path, *, kept_by_part: bool = False,
              rejected_by_part: bool = False, rejected_parts: list[str] = ()) -> None:
        """Write kept rows and rejected records, each to one file or (`*_by_part`) to a folder of one
        `<part>.jsonl` per part. Every file is replaced atomically."""
        if kept_by_part:
            write_jsonl_dir(kept, self.kept_parts())
        else:
            write_jsonl(kept, self.kept_rows())
        if rejected_by_part:
            write_jsonl_dir(rejected, self.rejected_parts(rejected_parts))
        else:
            write_jsonl(rejected, self.rejected_records())
