"""shortlist feedback: a coordinator's confirmation or rejection of a reported hire

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 16:20:00

A service point's ``hired`` is a report: the person leaves other open shortlists at once, and
becomes a lock only when a coordinator confirms it (``confirmed_decision_id``, since 0003). These
columns record how a coordinator resolved it (``confirmed`` or ``rejected``), when, by which key
and why; a rejected report no longer holds the person back from new shortlists.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shortlist_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('resolved_key_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shortlist_feedback', schema=None) as batch_op:
        batch_op.drop_column('resolution_reason')
        batch_op.drop_column('resolved_key_id')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolution')
