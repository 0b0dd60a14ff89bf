"""round jobs (durable queue with leases), workers seen, audit request ids, purge marks

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-07 08:30:00

- ``round_jobs``: one row per round (synchronous ones too, so a round whose process was killed
  is taken up again); claimed with a lease that its worker renews by heartbeat.
- ``service_workers``: when each job worker was last seen (``/ready``).
- ``audit_records.record_version`` and ``request_id``: records of version 2 hash the request id
  too; older records (version NULL = 1) keep verifying with their original fields.
- ``rounds.purged_at``: when retention purged the round's personal inputs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'round_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), sa.ForeignKey('rounds.id'), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=True),
        sa.Column('lease_until', sa.String(length=32), nullable=True),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.String(length=32), nullable=False),
        sa.Column('updated_at', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id'),
    )
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_round_jobs_status', ['status', 'lease_until'])
    op.create_table(
        'service_workers',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.String(length=32), nullable=False),
        sa.Column('seen_at', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_column('request_id')
        batch_op.drop_column('record_version')
    op.drop_table('service_workers')
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_round_jobs_status')
    op.drop_table('round_jobs')
