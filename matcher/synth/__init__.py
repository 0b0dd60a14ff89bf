"""Synthetic regions: realistic, reproducible data folders in the core input format."""

from matcher.synth.generate import Generated, generate, resolve_region, write_generated
from matcher.synth.regions import postcode_areas, region_names, region_table

__all__ = ["Generated", "generate", "postcode_areas", "region_names", "region_table",
           "resolve_region", "write_generated"]
