"""access ends when it should: when a supporter's link was issued, revoked alert links

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('supporter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_issued_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('alert_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_token', sa.String(length=43), nullable=True))
        batch_op.create_index(batch_op.f('ix_alert_recipient_revoked_token'), ['revoked_token'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_recipient_revoked_token'))
        batch_op.drop_column('revoked_token')
    # Not batch mode: recreating `supporter` on SQLite would cascade-delete every row that
    # references it. SQLite (3.35+) drops a plain column in place.
    op.drop_column('supporter', 'link_issued_at')
