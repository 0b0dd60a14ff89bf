"""Scoring: hard eligibility and a compatibility score per feasible pair, with its reasons."""

from matcher.scoring.components import COMPONENTS
from matcher.scoring.eligibility import FILTERS, eligible_pairs, filter_failures
from matcher.scoring.table import SCALE, EdgeTable, build_edges, score_pairs

__all__ = [
    "COMPONENTS",
    "FILTERS",
    "SCALE",
    "EdgeTable",
    "build_edges",
    "eligible_pairs",
    "filter_failures",
    "score_pairs",
]
