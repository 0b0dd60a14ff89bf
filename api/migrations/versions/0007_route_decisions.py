"""route decisions and proposed routes: decisions.next_option_id, round_assignments.next_option_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('decisions', 'round_assignments'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('next_option_id', sa.String(length=200), nullable=False,
                                       server_default=''))


def downgrade() -> None:
    for table in ('decisions', 'round_assignments'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('next_option_id')
