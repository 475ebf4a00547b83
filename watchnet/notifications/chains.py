"""Which channels a kind of message goes out on, and in what order (escalation).

CHANNEL_CHAINS lists, per message kind, tiers of channels separated by ">": every channel of
the first tier the person has goes out at once; when the kind escalates (ESCALATION_STEPS
gives its minutes), each later tier the person has follows that many minutes after the
previous one unless the person opened or answered first (notifications.services.stop_chain).
A kind that does not escalate goes out on the first tier the person has only: a supporter
with only a landline still hears an all-clear, one with a phone app is not called as well.
"*" gives the chain of every kind not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchnet.core.config import ConfigError
from watchnet.notifications.models import DeliveryChannel

DEFAULT_CHAIN = "push line email webhook > sms > voice"


def parse_chains(items: Any) -> dict[str, list[list[DeliveryChannel]]]:
    """{"alert": [[push, line, email, webhook], [sms], [voice]], ...} from the setting's items
    ("kind=tier > tier", tiers of space-separated channel names); ConfigError if unusable."""
    if isinstance(items, str):
        items = [p.strip() for p in items.split(",") if p.strip()]
    chains: dict[str, list[list[DeliveryChannel]]] = {}
    names = ", ".join(c.value for c in DeliveryChannel)
    for item in items or []:
        kind, sep, spec = str(item).partition("=")
        kind = kind.strip()
        tiers: list[list[DeliveryChannel]] = []
        for part in spec.split(">"):
            try:
                tier = [DeliveryChannel(name) for name in part.split()]
            except ValueError:
                tier = []
            if not tier:
                raise ConfigError(
                    f"WATCHNET_CHANNEL_CHAINS: {item!r} must be kind=channels > channels ..., "
                    f"with channels among {names}"
                )
            tiers.append(tier)
        if not sep or not kind:
            raise ConfigError(f"WATCHNET_CHANNEL_CHAINS: {item!r} has no kind= in front")
        seen = [c for tier in tiers for c in tier]
        if len(seen) != len(set(seen)):
            raise ConfigError(f"WATCHNET_CHANNEL_CHAINS: {item!r} names a channel twice")
        chains[kind] = tiers
    return chains


def parse_steps(items: Any) -> dict[str, int]:
    """{"alert": 5, ...} minutes between escalation tiers, from "kind=minutes" items."""
    if isinstance(items, str):
        items = [p.strip() for p in items.split(",") if p.strip()]
    steps: dict[str, int] = {}
    for item in items or []:
        kind, sep, raw = str(item).partition("=")
        try:
            minutes = int(raw.strip())
        except ValueError:
            minutes = -1
        if not sep or not kind.strip() or not 0 <= minutes <= 1440:
            raise ConfigError(
                f"WATCHNET_ESCALATION_STEPS: {item!r} must be kind=minutes (0 to 1440)"
            )
        steps[kind.strip()] = minutes
    return steps


def check_channel_settings(config: Mapping[str, Any]) -> None:
    """Start-up check: both settings parse (a bad value stops every process with its name)."""
    parse_chains(config.get("CHANNEL_CHAINS"))
    parse_steps(config.get("ESCALATION_STEPS"))


def chain_for(config: Mapping[str, Any], kind: str) -> list[list[DeliveryChannel]]:
    chains = parse_chains(config.get("CHANNEL_CHAINS"))
    return chains.get(kind) or chains.get("*") or parse_chains([f"*={DEFAULT_CHAIN}"])["*"]


def escalation_step_min(config: Mapping[str, Any], kind: str) -> int:
    """Minutes between tiers for this kind; 0: no escalation (first tier the person has)."""
    steps = parse_steps(config.get("ESCALATION_STEPS"))
    return steps.get(kind, steps.get("*", 0))
