"""The national size: 1.3 million candidates in 35 regions (needs many GB; --full only)."""

NAME = "national_1_3m"
CANDIDATES = 1_300_000
REGION = "all"
SEED = 1_300_000
POLICY = "matcher/policy/national.toml"
QUICK = False
