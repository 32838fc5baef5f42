"""The output contract: a pydantic type named `Output`. Strict types, no extra keys."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sentiment: Literal["positive", "negative", "neutral"]         # the class: scored as kind 'label'
    topic: Annotated[str, StringConstraints(min_length=2, max_length=40)]  # free text: kind 'text'
