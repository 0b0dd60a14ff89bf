"""200,000 candidates over the whole country in 35 regions."""

NAME = "regions_200k"
CANDIDATES = 200_000
REGION = "all"
SEED = 200_000
POLICY = "matcher/policy/regional.toml"
QUICK = False
