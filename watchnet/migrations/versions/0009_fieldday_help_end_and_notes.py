"""drill day on the phone: how and by whom a help call ended; notes saved with 「メモを保存」

Revision ID: 0009_fieldday
Revises: 0009_address
Create Date: 2026-12-06 22:00:00

"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0009_fieldday'
down_revision = '0009_address'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('help_call', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.Enum('caller_ok', 'staff_handled', 'drill_ended', name='helpcallresolution', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resolved_by_name', sa.String(length=100), server_default='', nullable=False))

    op.create_table('encounter_note',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('supporter_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('written_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoint.id'], name=op.f('fk_encounter_note_checkpoint_id_checkpoint'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['drill_id'], ['drill.id'], name=op.f('fk_encounter_note_drill_id_drill'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporter.id'], name=op.f('fk_encounter_note_supporter_id_supporter'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_encounter_note_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encounter_note')),
    sa.UniqueConstraint('supporter_id', 'client_id', name=op.f('uq_encounter_note_supporter_id'))
    )
    with op.batch_alter_table('encounter_note', schema=None) as batch_op:
        batch_op.create_index('ix_encounter_note_drill_time', ['drill_id', 'written_at'], unique=False)


def downgrade():
    with op.batch_alter_table('encounter_note', schema=None) as batch_op:
        batch_op.drop_index('ix_encounter_note_drill_time')

    op.drop_table('encounter_note')
    with op.batch_alter_table('help_call', schema=None) as batch_op:
        batch_op.drop_column('resolved_by_name')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolution')
