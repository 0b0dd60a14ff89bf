"""what-if jobs: whatif_runs, and round_jobs for either kind (round_id or whatif_id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 01:20:00

A planner's what-if started from the web app or the API runs as a job of kind ``whatif`` in the
same durable queue as rounds (lease, heartbeat, attempts, cancel, retry, progress).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'whatif_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.String(length=32), nullable=False),
        sa.Column('finished_at', sa.String(length=32), nullable=True),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('ask', sa.JSON(), nullable=False),
        sa.Column('inputs', sa.LargeBinary(), nullable=False),
        sa.Column('input_hash', sa.String(length=64), nullable=False),
        sa.Column('policy', sa.JSON(), nullable=False),
        sa.Column('policy_hash', sa.String(length=64), nullable=False),
        sa.Column('report', sa.JSON(), nullable=True),
        sa.Column('plots', sa.LargeBinary(), nullable=True),
        sa.Column('error', sa.JSON(), nullable=True),
        sa.Column('purged_at', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.alter_column('round_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('whatif_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_round_jobs_whatif_id', ['whatif_id'])
        batch_op.create_foreign_key('fk_round_jobs_whatif_id', 'whatif_runs', ['whatif_id'],
                                    ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM round_jobs WHERE round_id IS NULL")
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_round_jobs_whatif_id', type_='foreignkey')
        batch_op.drop_constraint('uq_round_jobs_whatif_id', type_='unique')
        batch_op.drop_column('whatif_id')
        batch_op.alter_column('round_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('whatif_runs')
