"""Use cases the API needs that watchnet.drills.services does not offer (yet).

They follow the services' rules: validate, flush, audit, leave the commit to the caller.
Move them into watchnet/drills/services.py when the pages need them too.
"""

from __future__ import annotations

from flask_babel import gettext as _

from watchnet.audit.services import record_audit
from watchnet.core.errors import UserInputError
from watchnet.core.extensions import db
from watchnet.core.geo import is_valid_latlon
from watchnet.drills.models import Checkpoint, Drill
from watchnet.drills.schemas import MAX_CHECKPOINTS
from watchnet.drills.services import CheckpointFields, update_checkpoint


def add_checkpoint(drill: Drill, lat: float, lon: float, fields: CheckpointFields) -> Checkpoint:
    """Append a checkpoint to a drill (after the existing ones) with its scenario."""
    if len(drill.checkpoints) >= MAX_CHECKPOINTS:
        raise UserInputError(
            _("A drill has at most %(max)d checkpoints.", max=MAX_CHECKPOINTS), "name"
        )
    if not is_valid_latlon(lat, lon):
        raise UserInputError(_("The position is outside the map."), "lat")
    seq = max((cp.seq for cp in drill.checkpoints), default=-1) + 1
    checkpoint = Checkpoint(seq=seq, name=fields.name.strip() or "-", lat=lat, lon=lon)
    drill.checkpoints.append(checkpoint)
    db.session.flush()
    update_checkpoint(checkpoint, fields)
    record_audit(
        "checkpoint.added", "checkpoint", checkpoint.id, drill.district_id, drill_id=drill.id
    )
    return checkpoint


def move_checkpoint(checkpoint: Checkpoint, lat: float, lon: float) -> None:
    """Place a checkpoint elsewhere."""
    if not is_valid_latlon(lat, lon):
        raise UserInputError(_("The position is outside the map."), "lat")
    checkpoint.lat, checkpoint.lon = lat, lon
    db.session.flush()


def remove_checkpoint(checkpoint: Checkpoint) -> None:
    """Delete a checkpoint from its drill."""
    drill = checkpoint.drill
    record_audit(
        "checkpoint.removed",
        "checkpoint",
        checkpoint.id,
        drill.district_id,
        drill_id=drill.id,
        name=checkpoint.name,
    )
    drill.checkpoints.remove(checkpoint)
    db.session.flush()
