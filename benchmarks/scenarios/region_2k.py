"""A small region: 2,000 candidates around Utrecht (room for every alternative, CP-SAT too)."""

NAME = "region_2k"
CANDIDATES = 2_000
REGION = "utrecht"
SEED = 2_000
POLICY = "matcher/policy/regional.toml"
QUICK = True
