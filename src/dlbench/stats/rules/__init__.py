"""The stopping rules a ``decide`` block may name with ``rule:``, one module each.

A rule replays a comparison's looks on its paired runs and returns a
``Decision``. Add one as a module with a class satisfying
``Rule`` and one line in ``RULES``.

- ``sign`` (``.sign``, the default): the median difference, decided by an exact
  group-sequential sign test; its error rate holds for any shape of the runs' spread.
- ``mean`` (``.mean``): the mean difference, decided by group-sequential repeated
  confidence intervals on the paired t statistic; exact for normal differences only.
"""

from __future__ import annotations

from dlbench.registry.errors import UnknownNameError
from dlbench.stats.rules.base import Rule
from dlbench.stats.rules.mean import MeanRule
from dlbench.stats.rules.sign import SignRule
from dlbench.stats.rules.sign_anytime import AnytimeSignRule

#: Rule name -> the rule.
RULES: dict[str, Rule] = {
    "sign": SignRule(),
    "sign-anytime": AnytimeSignRule(),
    "mean": MeanRule(),
}
DEFAULT_RULE = "sign"


def get_rule(name: str) -> Rule:
    """The rule called ``name``; an unknown name is an error listing the rules."""
    try:
        return RULES[name]
    except KeyError:
        raise UnknownNameError("decision rule", name, RULES) from None
