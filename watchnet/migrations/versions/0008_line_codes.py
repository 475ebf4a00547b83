"""LINE linking: one-time codes, handled webhook events, wrong codes per LINE user

Revision ID: 0008_line
Revises: 0007
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0008_line'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'line_link_code',
        sa.Column('supporter_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['supporter_id'], ['supporter.id'], name=op.f('fk_line_link_code_supporter_id_supporter'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('supporter_id', name=op.f('pk_line_link_code')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_line_link_code_code_hash')),
    )
    op.create_table(
        'line_webhook_event',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('received_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_line_webhook_event')),
    )
    with op.batch_alter_table('line_webhook_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_webhook_event_received_at'), ['received_at'], unique=False)
    op.create_table(
        'line_code_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('line_user_id', sa.String(length=64), nullable=False),
        sa.Column('failed_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_line_code_failure')),
    )
    with op.batch_alter_table('line_code_failure', schema=None) as batch_op:
        batch_op.create_index('ix_line_code_failure_user', ['line_user_id', 'failed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('line_code_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_line_code_failure_user')
    op.drop_table('line_code_failure')
    with op.batch_alter_table('line_webhook_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_webhook_event_received_at'))
    op.drop_table('line_webhook_event')
    op.drop_table('line_link_code')
