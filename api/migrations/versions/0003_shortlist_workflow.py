"""shortlist workflow: stored answers, idempotency keys, feedback, outcomes, posted vacancies

Revision ID: 0003
Revises: 0004
Create Date: 2026-12-07 08:40:00

- ``shortlists.body`` (the answer as issued, JSON text) and ``request_hash``: GET reads a
  shortlist back exactly; a retry with the same Idempotency-Key answers it again.
- ``idempotency_keys``: (API key, Idempotency-Key) -> request hash and shortlist, kept 24 hours.
- ``shortlist_feedback``: invited / not_suitable / hired / withdrawn per candidate of a shortlist.
- ``outcomes``: started / dropped_out / in_work_3m / in_work_6m per candidate and option.
- ``vacancies``: options posted by a service point for its own organisations.

(Reserved id 0003, chained after 0004, the newest head when it landed.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0004'
branch_labels = None
depends_on = None

TS = sa.String(length=32)


def upgrade() -> None:
    with op.batch_alter_table('shortlists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
    op.create_table(
        'idempotency_keys',
        sa.Column('key_id', sa.Integer(), nullable=False, autoincrement=False),
        sa.Column('idem_key', sa.String(length=200), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('shortlist_id', sa.Integer(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('key_id', 'idem_key'),
    )
    op.create_table(
        'shortlist_feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shortlist_id', sa.Integer(), sa.ForeignKey('shortlists.id'), nullable=False),
        sa.Column('option_id', sa.String(length=200), nullable=False),
        sa.Column('candidate_id', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('reason_code', sa.String(length=32), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_decision_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_shortlist_feedback_shortlist_id', 'shortlist_feedback', ['shortlist_id'])
    op.create_index('ix_shortlist_feedback_cand', 'shortlist_feedback', ['candidate_id'])
    op.create_table(
        'outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.String(length=200), nullable=False),
        sa.Column('option_id', sa.String(length=200), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('date', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_outcomes_pair', 'outcomes', ['candidate_id', 'option_id'])
    op.create_table(
        'vacancies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('option_id', sa.String(length=200), nullable=False, unique=True),
        sa.Column('organisation_id', sa.String(length=200), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('posted_at', TS, nullable=False),
        sa.Column('closed_at', TS, nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_vacancies_organisation_id', 'vacancies', ['organisation_id'])


def downgrade() -> None:
    op.drop_index('ix_vacancies_organisation_id', table_name='vacancies')
    op.drop_table('vacancies')
    op.drop_index('ix_outcomes_pair', table_name='outcomes')
    op.drop_table('outcomes')
    op.drop_index('ix_shortlist_feedback_cand', table_name='shortlist_feedback')
    op.drop_index('ix_shortlist_feedback_shortlist_id', table_name='shortlist_feedback')
    op.drop_table('shortlist_feedback')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('shortlists', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
        batch_op.drop_column('body')
