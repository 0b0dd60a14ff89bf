"""Page groups: one module per group, each with a `router` (see api.web.install)."""
