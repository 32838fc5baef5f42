"""The "simple program" baseline: a deterministic function from the user's text to an output.

Write `route(text) -> dict` returning an object the contract accepts (keyword rules, regexes), and the
baseline stage scores it beside the base and prompted models; the fine-tune should beat it. Until
then `route` is None and the rules baseline is reported as skipped.
"""

route = None
