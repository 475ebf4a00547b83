"""channels: the supporter's test notifications; the outbox indexed by supporter

Revision ID: 0008_channels
Revises: 0008_reach
Create Date: 2026-12-06 12:00:00

"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0008_channels'
down_revision = '0008_reach'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('channel_test',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supporter_id', sa.Integer(), nullable=False),
    sa.Column('press_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporter.id'], name=op.f('fk_channel_test_supporter_id_supporter'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_test')),
    sa.UniqueConstraint('supporter_id', 'press_key', name=op.f('uq_channel_test_supporter_id'))
    )
    with op.batch_alter_table('channel_test', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_test_supporter_id'), ['supporter_id'], unique=False)

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_supporter', ['supporter_id'], unique=False)


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_supporter')

    with op.batch_alter_table('channel_test', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_test_supporter_id'))

    op.drop_table('channel_test')
