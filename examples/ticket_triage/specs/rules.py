"""Keyword rules for ticket triage: the deterministic baseline the fine-tune must beat.

`route(text) -> dict` picks the category whose keywords appear first by priority, urgency from cue
words, the product from product names, and a summary from the first words of the message.
"""

from __future__ import annotations

import re

CATEGORIES = [
    ("account_access", r"log ?in|sign ?in|password|2fa|two-factor|authenticator|locked|sso|saml|login email"),
    ("shipping", r"order|deliver|tracking|shipp|parcel|package|courier"),
    ("billing", r"charg|refund|invoice|bill|payment|card|promo|coupon|discount|vat|plan|subscription"),
    ("feature_request", r"feature|would be great|could you add|please add|wish|idea|suggest|support for|any plans"),
    ("bug", r"crash|error|does nothing|broken|bug|not working|doesn.t work|spinner|loading|sync|notification"
            r"|disconnect|down|fail|time ?zone|unreadable|logged out|signs? me out|wake word"),
]
HIGH = r"urgent|asap|blocked|today|immediately|down|costing|losing|can.t work|production|critical"
LOW = r"no rush|not urgent|whenever|low priority|take your time|not a big deal|idea|suggest|wish"
PRODUCTS = [("speaker", r"aura|speaker"), ("api", r"\bapi\b|webhook|endpoint"),
            ("mobile_app", r"iphone|android|ios|mobile|phone app|\bapp on my phone"),
            ("web_app", r"web|browser|website|dashboard|chrome|\bsite\b")]


def route(text: str) -> dict:
    t = text.lower()
    category = next((c for c, pat in CATEGORIES if re.search(pat, t)), "other")
    if re.search(HIGH, t):
        urgency = "high"
    elif re.search(LOW, t) or category in ("feature_request", "other"):
        urgency = "low"
    else:
        urgency = "medium"
    product = next((p for p, pat in PRODUCTS if re.search(pat, t)), None)
    words = re.sub(r"[^a-z0-9 ]+", " ", t).split()
    return {"category": category, "urgency": urgency, "product": product, "summary": " ".join(words[:6]) or "none"}
