"""Satellites that recognise commands on the device: they are kept on the home's grammar.

Such a satellite (its info says `recognizes_on_device`) is offered the grammar by digest
when it connects and whenever the grammar changes (names, areas, exposure); it asks for
the grammar whole only when it lacks that digest, so an unchanged grammar is not resent.
"""

from __future__ import annotations

from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send

from sotto_voice.engine.stt.model import Grammar

from .const import DOMAIN
from .data import SottoConfigEntry, home_data
from .satellite import SatelliteDevice

SIGNAL_HOME_GRAMMAR: Final = f"{DOMAIN}_home_grammar"
"""Sent with the home's grammar each time it is rebuilt."""


@callback
def async_home_grammar_changed(hass: HomeAssistant, grammar: Grammar | None) -> None:
    """Tell every satellite that recognises on the device about the home's new grammar."""
    async_dispatcher_send(hass, SIGNAL_HOME_GRAMMAR, grammar)


class GrammarFeeder:
    """Offers one satellite the home's grammar whenever it or the grammar changes."""

    def __init__(
        self, hass: HomeAssistant, entry: SottoConfigEntry, satellite: SatelliteDevice
    ) -> None:
        """Follow the entry's satellite; nothing is offered until `async_start`."""
        self.hass = hass
        self._entry = entry
        self._satellite = satellite
        self._latest: Grammar | None = None
        self._offered: str | None = None

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Start following; returns what stops it."""
        unsubscribe = (
            self._satellite.subscribe_updates(self._check),
            async_dispatcher_connect(self.hass, SIGNAL_HOME_GRAMMAR, self._on_grammar),
        )
        self._check()

        @callback
        def stop() -> None:
            for unsub in unsubscribe:
                unsub()

        return stop

    @callback
    def _on_grammar(self, grammar: Grammar | None) -> None:
        self._latest = grammar
        self._check()

    def _grammar(self) -> Grammar | None:
        if self._satellite.question_grammar is not None:
            return self._satellite.question_grammar  # a question is open: its answers stay
        if self._latest is not None:
            return self._latest
        home = home_data(self.hass)
        return home.grammar.grammar if home is not None else None

    @callback
    def _check(self) -> None:
        satellite = self._satellite
        info = satellite.info
        if not satellite.available or info is None or not info.recognizes_on_device:
            self._offered = None  # offered again when it is back
            return
        grammar = self._grammar()
        if grammar is None or grammar.digest in (self._offered, satellite.grammar_digest):
            return
        self._offered = grammar.digest
        self._entry.async_create_background_task(
            self.hass,
            satellite.connection.async_offer_grammar(grammar),
            f"sotto grammar for {satellite.connection.name}",
        )
