"""Output contract for the ticket-triage example: one support message in, four fields out.

Every key is always present; `product` is null when the message names no product. Strict types and no
extra keys, as in the default task's contract.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, StringConstraints


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    category: Literal["billing", "bug", "account_access", "shipping", "feature_request", "other"]
    urgency: Literal["low", "medium", "high"]
    product: Optional[Literal["web_app", "mobile_app", "api", "speaker"]]
    summary: Annotated[str, StringConstraints(min_length=3, max_length=80)]
