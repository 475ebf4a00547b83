"""the number supporters call on a drill's day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=30), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('contact_label', sa.String(length=100), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.drop_column('contact_label')
        batch_op.drop_column('contact_phone')
