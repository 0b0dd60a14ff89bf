"""matcher: match people with a distance to the labour market to their next step towards work.

Data flows one way: load and validate -> score (a sparse table of feasible pairs) -> solve -> report.
"""

__version__ = "0.1.0"
