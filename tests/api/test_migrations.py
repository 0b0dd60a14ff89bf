"""The migrations build exactly the schema of the models (one head)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from api.db import alembic_config, make_engine, migrate
from api.models import Base
from api.settings import sqlite_url


def test_migrations_match_the_models_with_one_head(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    engine = make_engine(url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
    assert len(ScriptDirectory.from_config(alembic_config(url)).get_heads()) == 1
