"""The equal-chances audit: protected attributes live here and only here.

Scoring (:mod:`matcher.scoring`), solving (:mod:`matcher.solver`) and loading (:mod:`matcher.load`)
never import this package and never read ``protected.csv``; the audit reads a finished round and
the protected table and reports group placement rates, disparate impact, equal opportunity and
proxies.
"""

from matcher.audit.metrics import FOUR_FIFTHS, MIN_GROUP, group_rates, min_max_ratio
from matcher.audit.protected import ATTRIBUTES, PROTECTED_FILE, load_protected
from matcher.audit.report import AUDIT_FILES, audit_arrays, audit_files, audit_markdown, audit_round

__all__ = [
    "ATTRIBUTES",
    "AUDIT_FILES",
    "FOUR_FIFTHS",
    "MIN_GROUP",
    "PROTECTED_FILE",
    "audit_arrays",
    "audit_files",
    "audit_markdown",
    "audit_round",
    "group_rates",
    "load_protected",
    "min_max_ratio",
]
