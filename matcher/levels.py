"""Dutch language levels: CEFR A0..C2 and the Dutch literacy reference levels 1F/2F/3F."""

from __future__ import annotations

import numpy as np
import pandas as pd

CEFR = ("A0", "A1", "A2", "B1", "B2", "C1", "C2")
#: Level code -> rank on one ordered scale; 1F is about A2, 2F about B1, 3F about B2.
LEVEL_RANK: dict[str, int] = {code: i for i, code in enumerate(CEFR)} | {
    "1F": 2,
    "2F": 3,
    "3F": 4,
}
ACCEPTED = ", ".join([*CEFR, "1F", "2F", "3F"])


def parse_levels(values: pd.Series) -> np.ndarray:
    """Rank of each level code (case and spaces ignored); -1 where the code is unknown."""
    codes, uniq = pd.factorize(values.astype(str), use_na_sentinel=False)
    norm = pd.Series(uniq, dtype=object).str.strip().str.upper()
    return norm.map(LEVEL_RANK).fillna(-1).to_numpy(dtype=np.int8)[codes]
