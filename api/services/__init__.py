"""What the service does between the routers (HTTP) and the store (SQL)."""
