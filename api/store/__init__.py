"""Database access for the service's own bookkeeping (SQL only, no HTTP, no solving)."""
