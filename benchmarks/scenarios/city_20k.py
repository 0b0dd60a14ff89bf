"""The city network: 20,000 candidates in the Utrecht region (the issue's 10-second target)."""

NAME = "city_20k"
CANDIDATES = 20_000
REGION = "utrecht"
SEED = 20_000
POLICY = "matcher/policy/regional.toml"
QUICK = True
