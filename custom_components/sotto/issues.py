"""Repair issues an entry raises, each open for as long as its cause lasts."""

from __future__ import annotations

from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

# Every kind is also the issue's translation key; an issue's ID adds the entry's ID.
ISSUE_KINDS: Final = (
    "legacy_unencrypted",
    "remote_wake",
    "esphome_unencrypted",
    "esphome_voice_conflict",
    "no_local_recognizer",
)


@callback
def async_set_issue(
    hass: HomeAssistant,
    entry_id: str,
    kind: str,
    placeholders: dict[str, str],
    *,
    active: bool,
) -> None:
    """Keep an entry's repair issue of this kind open while `active`, closed otherwise."""
    issue_id = f"{kind}_{entry_id}"
    if active:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=kind,
            translation_placeholders=placeholders,
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Forget every repair issue of a removed entry."""
    for kind in ISSUE_KINDS:
        ir.async_delete_issue(hass, DOMAIN, f"{kind}_{entry_id}")
