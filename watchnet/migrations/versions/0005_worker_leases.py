"""worker heartbeats, the scheduler's lease and its job runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00

"""
from alembic import op
import sqlalchemy as sa
import watchnet.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('worker_heartbeat',
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('started_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('beat_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_worker_heartbeat'))
    )
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.create_index('ix_worker_heartbeat_kind_beat', ['kind', 'beat_at'], unique=False)
    op.create_table('scheduler_lease',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('token', sa.Integer(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('acquired_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('scheduler_job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('token', sa.Integer(), nullable=False),
    sa.Column('started_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', watchnet.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_job_run'))
    )
    with op.batch_alter_table('scheduler_job_run', schema=None) as batch_op:
        batch_op.create_index('ix_scheduler_job_run_started', ['started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('scheduler_job_run', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduler_job_run_started')
    op.drop_table('scheduler_job_run')
    op.drop_table('scheduler_lease')
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_heartbeat_kind_beat')
    op.drop_table('worker_heartbeat')
