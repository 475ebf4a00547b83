"""walked sectors and indexes for the phones' polls

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:30:00

Every searcher's page asks every few seconds which sectors have been walked, and which event
is the newest for it. With hours of shared positions both questions read every row of the
alert; the walked sectors now live in their own small table (filled from the positions here),
and two indexes answer the rest.
"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('walked_sector',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('first_walked_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_walked_sector_alert_id_alert'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', 'cell', name=op.f('pk_walked_sector'))
    )
    op.execute(
        "INSERT INTO walked_sector (alert_id, cell, first_walked_at) "
        "SELECT alert_id, cell, MIN(recorded_at) FROM search_position "
        "WHERE cell <> '' GROUP BY alert_id, cell")
    with op.batch_alter_table('search_position', schema=None) as batch_op:
        batch_op.create_index('ix_search_position_alert_supporter', ['alert_id', 'supporter_id', 'id'], unique=False)
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.create_index('ix_alert_event_audience', ['alert_id', 'audience', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_event_audience')
    with op.batch_alter_table('search_position', schema=None) as batch_op:
        batch_op.drop_index('ix_search_position_alert_supporter')
    op.drop_table('walked_sector')
