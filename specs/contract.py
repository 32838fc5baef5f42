"""Output contract for the default task: exactly one tool call as compact JSON.

`Output` is a discriminated union on "tool". Every model forbids extra keys and is strict about
types (a number given as a string is a wrong type, not something to coerce). Optional arguments are
omitted when the user did not give them; an explicit null is a contract violation, because a
field's default is never validated but a given null is, against a type that excludes None.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal, Union

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _calendar_date(value: str) -> str:
    """The pattern admits 2026-02-30; the calendar does not."""
    if value[:1].isdigit():
        datetime.date.fromisoformat(value)  # ValueError: "day is out of range for month"
    return value


Date = Annotated[
    str,
    StringConstraints(pattern=r"^(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
                              r"|\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))$"),
    AfterValidator(_calendar_date),
]
Clock = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Text = Annotated[str, StringConstraints(min_length=1)]
# ISO 4217's current codes from a maintained list (pycountry, Debian's iso-codes data; pinned), as an
# enum in the JSON schema, so constrained decoding cannot write a crypto ticker or a made-up code.
CURRENCY_CODES = tuple(sorted(c.alpha_3 for c in pycountry.currencies))
Currency = Literal[CURRENCY_CODES]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateReminderArgs(_Strict):
    text: Text
    date: Date
    time: Clock = None


class SendMessageArgs(_Strict):
    recipient: Text
    channel: Literal["sms", "email", "slack"]
    body: Text


class CreateEventArgs(_Strict):
    title: Text
    date: Date
    start_time: Clock
    duration_minutes: Annotated[int, Field(gt=0)] = None


class GetWeatherArgs(_Strict):
    location: Text
    date: Date = None


class SetTimerArgs(_Strict):
    duration_seconds: Annotated[int, Field(gt=0)]
    label: Text = None


class ConvertCurrencyArgs(_Strict):
    amount: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    from_currency: Currency
    to_currency: Currency


class NoToolArgs(_Strict):
    pass


class CreateReminder(_Strict):
    tool: Literal["create_reminder"]
    arguments: CreateReminderArgs


class SendMessage(_Strict):
    tool: Literal["send_message"]
    arguments: SendMessageArgs


class CreateEvent(_Strict):
    tool: Literal["create_event"]
    arguments: CreateEventArgs


class GetWeather(_Strict):
    tool: Literal["get_weather"]
    arguments: GetWeatherArgs


class SetTimer(_Strict):
    tool: Literal["set_timer"]
    arguments: SetTimerArgs


class ConvertCurrency(_Strict):
    tool: Literal["convert_currency"]
    arguments: ConvertCurrencyArgs


class NoTool(_Strict):
    tool: Literal["no_tool"]
    arguments: NoToolArgs


Output = Annotated[
    Union[CreateReminder, SendMessage, CreateEvent, GetWeather, SetTimer, ConvertCurrency, NoTool],
    Field(discriminator="tool"),
]
