"""Imports every model so the metadata is complete for Alembic and create_all."""

from __future__ import annotations

from watchnet.alerts.models import (
    Alert,
    AlertEvent,
    AlertRecipient,
    SearchPosition,
    SearchSectorClaim,
    Sighting,
)
from watchnet.audit.models import AuditEvent
from watchnet.auth.models import ApiToken, LoginAttempt
from watchnet.core.models import GeocodeCache
from watchnet.districts.models import AddressImport, AddressPoint, District, Landmark
from watchnet.drills.models import Checkpoint, Drill, Participant, RoutePoint, Team
from watchnet.feedback.models import Feedback, FeedbackTheme
from watchnet.jobs.models import SchedulerJobRun, SchedulerLease, WorkerHeartbeat
from watchnet.kpt.models import ActionItem, KptBoard, KptItem, NewsletterDraft
from watchnet.notifications.models import Delivery
from watchnet.people.line_models import LineCodeFailure, LineLinkCode, LineWebhookEvent
from watchnet.people.models import (
    ChannelTest,
    NotificationAddress,
    StaffUser,
    Supporter,
    SupporterImport,
)
from watchnet.practice_calls.models import PracticeCall, PracticeCallRecipient
from watchnet.registry.models import AtRiskPerson, Consent, FamilyContact, PersonPhoto, UsualPlace
from watchnet.tracking.models import (
    EncounterStep,
    HelpCall,
    HelpResponse,
    LatestPosition,
    LiveEvent,
    PositionReport,
)

__all__ = [
    "AddressImport",
    "AddressPoint",
    "Alert",
    "AlertEvent",
    "AlertRecipient",
    "SearchPosition",
    "SearchSectorClaim",
    "Sighting",
    "AtRiskPerson",
    "Consent",
    "FamilyContact",
    "PersonPhoto",
    "UsualPlace",
    "ActionItem",
    "KptBoard",
    "KptItem",
    "NewsletterDraft",
    "EncounterStep",
    "GeocodeCache",
    "HelpCall",
    "HelpResponse",
    "LatestPosition",
    "LiveEvent",
    "PositionReport",
    "ApiToken",
    "AuditEvent",
    "ChannelTest",
    "Checkpoint",
    "SchedulerJobRun",
    "SchedulerLease",
    "WorkerHeartbeat",
    "Delivery",
    "District",
    "Drill",
    "Feedback",
    "FeedbackTheme",
    "Landmark",
    "LineCodeFailure",
    "LineLinkCode",
    "LineWebhookEvent",
    "LoginAttempt",
    "NotificationAddress",
    "Participant",
    "PracticeCall",
    "PracticeCallRecipient",
    "RoutePoint",
    "StaffUser",
    "Supporter",
    "SupporterImport",
    "Team",
]
