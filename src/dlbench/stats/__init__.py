"""Pure statistics: numbers in, verdicts out.

The decided comparisons' records (``.records``), the look schedule and error spending
(``.spending``), the named stopping rules (``.rules``, one module each, chosen by a
``decide`` block's ``rule:``), a comparison's replay from per-seed values (``.evaluate``),
the probability that A beats B (``.probability``), how many runs a decision would take
(``.planning``), and tuning's records and selection of the best trial (``.tuning``).
Nothing here reads files, imports torch or renders anything.
"""
