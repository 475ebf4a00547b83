"""reach: the channel that first reached an alert's recipient, and where their answer came from

Revision ID: 0008_reach
Revises: 0008_practice
Create Date: 2026-12-06 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_reach'
down_revision = '0008_practice'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alert_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_via', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('answered_via', sa.String(length=16), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('alert_recipient', schema=None) as batch_op:
        batch_op.drop_column('answered_via')
        batch_op.drop_column('opened_via')
