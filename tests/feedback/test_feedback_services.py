"""The services other parts use: summary, chosen quotes, themes, and storing a form once."""

from __future__ import annotations

import sqlalchemy as sa

from watchnet.core.extensions import db
from watchnet.drills.models import DrillStatus, Participant, ParticipantRole
from watchnet.feedback import services
from watchnet.feedback.models import Feedback, FeedbackTheme, GaveNameFirst, Viewpoint
from watchnet.feedback.services import FeedbackAnswers


def joined(drill, supporter, role=ParticipantRole.walker):
    db.session.add(Participant(drill_id=drill.id, supporter_id=supporter.id, role=role))
    db.session.commit()
    return supporter


def test_the_summary_averages_each_scale_per_viewpoint(
    district, make_drill, make_supporter, organizer
):
    drill = make_drill(district, status=DrillStatus.ended)
    a, b, c = (joined(drill, make_supporter(district)) for _ in range(3))
    record = services.record_feedback
    record(
        drill,
        FeedbackAnswers(
            Viewpoint.caller,
            "a",
            safe_approach=4,
            location_ease=2,
            confidence_alone=1,
            gave_name_first=GaveNameFirst.yes,
        ),
        supporter=a,
    )
    record(
        drill,
        FeedbackAnswers(
            Viewpoint.caller,
            "b",
            safe_approach=5,
            location_ease=3,
            gave_name_first=GaveNameFirst.no,
        ),
        supporter=b,
    )
    record(
        drill,
        FeedbackAnswers(
            Viewpoint.caller, "c", safe_approach=4, gave_name_first=GaveNameFirst.unsure
        ),
        supporter=c,
    )
    record(drill, FeedbackAnswers(Viewpoint.organizer, "o", location_ease=4), staff=organizer)
    db.session.commit()

    summary = services.feedback_summary(drill)

    assert summary["count"] == 4
    caller = summary["by_viewpoint"]["caller"]
    assert caller["count"] == 3
    assert caller["safe_approach"] == 4.33  # (4 + 5 + 4) / 3
    assert caller["location_ease"] == 2.5  # (2 + 3) / 2; one left it out
    assert caller["confidence_alone"] == 1
    assert caller["gave_name_first"] == {"yes": 1, "no": 1, "unsure": 1}
    assert summary["by_viewpoint"]["organizer"]["location_ease"] == 4
    assert summary["by_viewpoint"]["called"] == {
        "count": 0,
        "safe_approach": None,
        "location_ease": None,
        "confidence_alone": None,
        "gave_name_first": {"yes": 0, "no": 0, "unsure": 0},
    }


def test_questions_a_viewpoint_is_not_asked_are_not_stored(district, make_drill, supporter):
    drill = make_drill(district, status=DrillStatus.ended)
    joined(drill, supporter, role=ParticipantRole.role_player)

    feedback, created = services.record_feedback(
        drill,
        FeedbackAnswers(
            Viewpoint.called, "rp", location_ease=5, confidence_alone=5, safe_approach=2
        ),
        supporter=supporter,
    )

    assert created
    assert (feedback.safe_approach, feedback.location_ease, feedback.confidence_alone) == (
        2,
        None,
        None,
    )


def test_chosen_quotes_come_per_viewpoint(district, make_drill):
    drill = make_drill(district, status=DrillStatus.ended)
    other = make_drill(district, title="別の訓練", status=DrillStatus.ended)
    rows = [
        (drill, Viewpoint.caller, "自分から名乗ることが大切だと分かった", True),
        (drill, Viewpoint.called, "正面から声を掛けてもらえて安心した", True),
        (drill, Viewpoint.observer, "選ばれていない感想", False),
        (other, Viewpoint.caller, "別の訓練の感想", True),
    ]
    for i, (d, vp, text, chosen) in enumerate(rows):
        db.session.add(
            Feedback(
                drill_id=d.id, viewpoint=vp, text=text, is_quote_chosen=chosen, client_id=f"q{i}"
            )
        )
    db.session.commit()

    assert services.chosen_quotes(drill) == {
        "caller": ["自分から名乗ることが大切だと分かった"],
        "called": ["正面から声を掛けてもらえて安心した"],
        "observer": [],
        "organizer": [],
    }


def test_preset_themes_are_created_once_per_drill(district, make_drill):
    drill = make_drill(district)

    services.ensure_preset_themes(drill)
    themes = services.ensure_preset_themes(drill)
    db.session.commit()

    assert [str(t.preset) for t in themes] == [
        "location",
        "confidence_alone",
        "own_name",
        "approach",
    ]
    assert db.session.scalar(sa.select(sa.func.count(FeedbackTheme.id))) == 4


def test_two_sends_racing_with_one_client_id_store_one_feedback(
    district, make_drill, supporter, monkeypatch
):
    drill = make_drill(district, status=DrillStatus.live)
    joined(drill, supporter)
    first, created = services.record_feedback(
        drill, FeedbackAnswers(Viewpoint.caller, "same", text="一度目"), supporter=supporter
    )
    db.session.commit()
    # The second request looked before the first one was committed, and found nothing.
    real = services._existing
    state = {"first_look": True}

    def looked_too_early(*args):
        if state.pop("first_look", False):
            return None
        return real(*args)

    monkeypatch.setattr(services, "_existing", looked_too_early)

    second, created_again = services.record_feedback(
        drill, FeedbackAnswers(Viewpoint.caller, "same", text="二度目"), supporter=supporter
    )
    db.session.commit()

    assert created and not created_again
    assert second.id == first.id
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 1
