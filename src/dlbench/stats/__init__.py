"""Pure statistics: numbers in, verdicts out.

The decided comparisons' records (:mod:`.records`), the look schedule and error spending
(:mod:`.spending`), the named stopping rules (:mod:`.rules`, one module each, chosen by a
``decide`` block's ``rule:``), a comparison's replay from per-seed values (:mod:`.evaluate`),
the probability that A beats B (:mod:`.probability`), how many runs a decision would take
(:mod:`.planning`), and tuning's records and selection of the best trial (:mod:`.tuning`).
Nothing here reads files, imports torch or renders anything.
"""
