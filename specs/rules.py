"""A deterministic rule-based router for the default task: the "simple program" baseline.

Keyword rules pick the tool; regexes pull the arguments the data spec normalises (dates, clock
times, durations, currencies). It is honest about what rules can do: no learning, no context.
"""

from __future__ import annotations

import re

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CURRENCIES = [
    (r"canadian dollars?|\bcad\b", "CAD"), (r"australian dollars?|aussie dollars?|\baud\b", "AUD"),
    (r"us dollars?|dollars?|bucks|\busd\b|\$", "USD"), (r"euros?|\beur\b|€", "EUR"),
    (r"pounds?|quid|\bgbp\b|£", "GBP"), (r"yen|\bjpy\b|¥", "JPY"), (r"rupees?|\binr\b|₹", "INR"),
    (r"swiss francs?|\bchf\b", "CHF"), (r"pesos?|\bmxn\b", "MXN"), (r"kronor|\bsek\b", "SEK"),
    (r"reais|\bbrl\b", "BRL"), (r"\bwon\b|\bkrw\b", "KRW"), (r"yuan|renminbi|\bcny\b", "CNY"),
    (r"\brand\b|\bzar\b", "ZAR"),
]
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
                "forty": 40, "fifty": 50, "sixty": 60, "eighty": 80, "ninety": 90, "a hundred": 100,
                "an": 1, "a": 1}
UNSAFE = re.compile(r"ignore (all |your |previous |the )*(instructions|rules)|system override|system:|"
                    r"developer mode|password|\bpin\b|credit card|pretend|disregard|<\|im_start\|>|"
                    r"</?system>|hacker|evil|medical records|home address|gift cards|salaries|cvv",
                    re.IGNORECASE)
NO_TOOL = {"tool": "no_tool", "arguments": {}}


def _date(t: str) -> str | None:
    m = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", t)
    if m:
        return m.group(1)
    if re.search(r"\btomorrow\b|\btmrw\b", t):
        return "tomorrow"
    if re.search(r"\btoday\b|\btonight\b|2day", t):
        return "today"
    for d in WEEKDAYS:
        if re.search(rf"\b{d[:3]}\w*\b", t):
            return d
    return None


def _clock(t: str) -> str | None:
    if "noon" in t or "midday" in t:
        return "12:00"
    if "midnight" in t:
        return "00:00"
    m = re.search(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)", t)
    if m:
        h, mi = int(m.group(1)) % 12, int(m.group(2) or 0)
        if m.group(3).startswith("p"):
            h += 12
        return f"{h:02d}:{mi:02d}"
    m = re.search(r"\b([01]?\d|2[0-3]):([0-5]\d)\b", t)
    if m:
        return f"{int(m.group(1)):02d}:{m.group(2)}"
    return None


def _seconds(t: str) -> int | None:
    total = 0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?|an?|one|two|three|five|ten|twenty|thirty)\s*"
                                r"(hours?|hrs?|h\b|minutes?|mins?|min\b|seconds?|secs?)", t):
        n = float(num) if num[0].isdigit() else NUMBER_WORDS.get(num, 1)
        total += int(n * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1))
    if "half an hour" in t:
        total = total or 1800
    return total or None


def _currencies(t: str) -> list[tuple[int, str]]:
    found = []
    taken: list[tuple[int, int]] = []
    for pattern, code in CURRENCIES:
        for m in re.finditer(pattern, t):
            if not any(a <= m.start() < b for a, b in taken):
                found.append((m.start(), code))
                taken.append((m.start(), m.end()))
    return sorted(found)


def route(text: str) -> dict:
    t = text.lower()
    if UNSAFE.search(text):
        return NO_TOOL
    if re.search(r"\btimer\b|countdown|ping me in", t):
        secs = _seconds(t)
        return {"tool": "set_timer", "arguments": {"duration_seconds": secs}} if secs else NO_TOOL
    curs = _currencies(t)
    amount = re.search(r"(\d[\d,]*(?:\.\d+)?)", t)
    if len(curs) >= 2 and amount and re.search(r"convert|how much|what's|in |to |->", t):
        return {"tool": "convert_currency", "arguments": {
            "amount": float(amount.group(1).replace(",", "")), "from_currency": curs[0][1],
            "to_currency": curs[-1][1]}}
    if re.search(r"weather|forecast|umbrella|rain|sunny|\bwx\b", t):
        m = re.search(r"\b(?:in|for)\s+([A-Z][\w.' -]*?)(?=\s+(?:on|today|tomorrow|this|tmrw|\d)|[?.!,]|$)", text)
        if not m:
            return NO_TOOL
        args = {"location": m.group(1).strip()}
        d = _date(t)
        if d:
            args["date"] = d
        return {"tool": "get_weather", "arguments": args}
    m = re.search(r"\b(text|sms|email|slack)\s+(\S+?)[:,]?\s+(?:saying\s+|that\s+)?(.+)$", text, re.IGNORECASE)
    if m and not re.search(r"whatsapp|telegram|signal|instagram|messenger|wechat|viber|fax", t):
        verb = m.group(1).lower()
        channel = {"text": "sms", "sms": "sms"}.get(verb, verb)
        return {"tool": "send_message", "arguments": {
            "recipient": m.group(2), "channel": channel, "body": m.group(3).strip().strip('"\'')}}
    if re.search(r"schedule|calendar|\bevent\b|\bbook\b", t):
        d, c = _date(t), _clock(t)
        if d and c:
            m = re.search(r"(?:schedule|book|put|add|called)\s+(.+?)\s+(?:on|for|to|today|tomorrow|this|\d)", text,
                          re.IGNORECASE)
            args = {"title": m.group(1) if m else "event", "date": d, "start_time": c}
            mins = _seconds(t)
            if mins:
                args["duration_minutes"] = mins // 60
            return {"tool": "create_event", "arguments": args}
    if re.search(r"remind|reminder", t):
        d = _date(t)
        m = re.search(r"remind me to\s+(.+?)(?:\s+(?:on|at|today|tomorrow|tmrw|this|next)\b|$)", text, re.IGNORECASE)
        if d and m:
            args = {"text": m.group(1), "date": d}
            c = _clock(t)
            if c:
                args["time"] = c
            return {"tool": "create_reminder", "arguments": args}
    return NO_TOOL
