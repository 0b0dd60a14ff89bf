"""Caps on request and page sizes (the body size cap is a setting)."""

MAX_ROWS = 200_000  # rows per table in one JSON import
MAX_PAGE = 1000  # items per page of any list
MAX_K = 100  # candidates per shortlist
MAX_OFFSET = 2**31 - 1  # page offsets and ids stay within a 32-bit integer column
MAX_ID = 2**31 - 1
