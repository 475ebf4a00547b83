"""Finding supporters: the staff list's query (filters, kana in either script)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from watchnet.people.models import Supporter
from watchnet.people.validation import normalise_kana

_HIRA_TO_KATA = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_KATA_TO_HIRA = {c + 0x60: c for c in range(0x3041, 0x3097)}


def supporters_query(
    district_ids: Iterable[int],
    district_id: int | None = None,
    kind: str | None = None,
    text: str | None = None,
    active: bool | None = None,
) -> sa.Select[Supporter]:
    """Supporters of the given districts, filtered; ordered by kana as a Japanese list is."""
    stmt = (
        sa.select(Supporter)
        .where(Supporter.district_id.in_(list(district_ids)))
        .options(selectinload(Supporter.district))
        .order_by(Supporter.name_kana, Supporter.id)
    )
    if district_id is not None:
        stmt = stmt.where(Supporter.district_id == district_id)
    if kind:
        stmt = stmt.where(Supporter.kind == kind)
    if active is not None:
        stmt = stmt.where(Supporter.is_active.is_(active))
    text = normalise_kana(text or "")
    if text:
        # Kana typed in either script finds the other ("ヤマダ" finds "やまだ").
        variants = {text, text.translate(_HIRA_TO_KATA), text.translate(_KATA_TO_HIRA)}
        conditions = [
            Supporter.name.contains(text, autoescape=True),
            sa.func.lower(sa.func.coalesce(Supporter.email, "")).contains(
                text.lower(), autoescape=True
            ),
        ]
        conditions += [Supporter.name_kana.contains(v, autoescape=True) for v in variants]
        stmt = stmt.where(sa.or_(*conditions))
    return stmt
