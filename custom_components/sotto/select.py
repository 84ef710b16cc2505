"""Select entities: the pipeline, end-of-speech sensitivity, wake word and its sensitivity."""

from __future__ import annotations

from typing import Final

from homeassistant.components.assist_pipeline.select import (
    AssistPipelineSelect,
    VadSensitivitySelect,
)
from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from sotto_voice.messages import Configure

from .connection import unsupported_features
from .const import DOMAIN
from .data import SatelliteConfigEntry
from .entity import SottoSatelliteEntity

PARALLEL_UPDATES = 1

# Wake word sensitivity levels, as the satellite's 0..1 scale (0.5 is the model's own).
SENSITIVITY_LEVELS: Final = {
    "lowest": 0.2,
    "low": 0.35,
    "default": 0.5,
    "high": 0.65,
    "highest": 0.8,
}

WAKE_WORD = SelectEntityDescription(
    key="wake_word", translation_key="wake_word", entity_category=EntityCategory.CONFIG
)
# The second wake word, as HA's own ESPHome satellites offer it (each runs its own
# pipeline: "Assistant 2"); "no_wake_word" until the user picks one.
WAKE_WORD_2 = SelectEntityDescription(
    key="wake_word_2",
    translation_key="wake_word_n",
    translation_placeholders={"index": "2"},
    entity_category=EntityCategory.CONFIG,
)
NO_WAKE_WORD: Final = "no_wake_word"
SENSITIVITY = SelectEntityDescription(
    key="wake_word_sensitivity",
    translation_key="wake_word_sensitivity",
    entity_category=EntityCategory.CONFIG,
    options=list(SENSITIVITY_LEVELS),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SatelliteConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's selects (those its device can honour; diagnostics say why not)."""
    unsupported = unsupported_features(entry.runtime_data.connection)
    entities: list[SelectEntity] = [
        SottoPipelineSelect(hass, entry),
        SottoVadSensitivitySelect(hass, entry),
    ]
    if WAKE_WORD.key not in unsupported:
        entities.append(SottoWakeWordSelect(entry, WAKE_WORD))
        if WAKE_WORD_2.key not in unsupported:
            entities += [SottoSecondWakeWordSelect(entry, WAKE_WORD_2)]
            entities += [SottoPipelineSelect(hass, entry, index=1)]
    if SENSITIVITY.key not in unsupported:
        entities.append(SottoSensitivitySelect(entry, SENSITIVITY))
    async_add_entities(entities)


class SottoPipelineSelect(SottoSatelliteEntity, AssistPipelineSelect):
    """Which Assist pipeline the satellite's commands run through (index 1: those woken by
    the second wake word)."""

    def __init__(self, hass: HomeAssistant, entry: SatelliteConfigEntry, index: int = 0) -> None:
        """Use HA's own pipeline select, on the satellite's device."""
        SottoSatelliteEntity.__init__(self, entry, AssistPipelineSelect.entity_description)
        AssistPipelineSelect.__init__(
            self, hass, DOMAIN, entry.unique_id or entry.entry_id, index=index
        )


class SottoVadSensitivitySelect(SottoSatelliteEntity, VadSensitivitySelect):
    """How long a pause HA's own speech detection waits for (the satellite decides first)."""

    def __init__(self, hass: HomeAssistant, entry: SatelliteConfigEntry) -> None:
        """Use HA's own sensitivity select, on the satellite's device."""
        SottoSatelliteEntity.__init__(self, entry, VadSensitivitySelect.entity_description)
        VadSensitivitySelect.__init__(self, hass, entry.unique_id or entry.entry_id)


class SottoWakeWordSelect(SottoSatelliteEntity, SelectEntity):
    """The wake word the satellite listens for, from those it reports."""

    @property
    def options(self) -> list[str]:
        """The wake words the satellite has."""
        info = self.satellite.info
        return list(info.wake_words) if info else []

    @property
    def current_option(self) -> str | None:
        """The active wake word, by the satellite's report."""
        state = self.satellite.state
        return state.wake_word if state else None

    async def async_select_option(self, option: str) -> None:
        """Ask the satellite to listen for another wake word."""
        await self.async_request(
            self.satellite.connection.async_configure(Configure(wake_word=option))
        )


class SottoSecondWakeWordSelect(SottoSatelliteEntity, SelectEntity):
    """A second wake word the satellite listens for at the same time, or none."""

    @property
    def options(self) -> list[str]:
        """No second wake word, or one of the others the satellite has."""
        info, state = self.satellite.info, self.satellite.state
        first = state.wake_word if state else None
        words = info.wake_words if info else ()
        return [NO_WAKE_WORD, *(word for word in words if word != first)]

    @property
    def current_option(self) -> str | None:
        """The second wake word, by the satellite's report."""
        state = self.satellite.state
        if state is None:
            return None
        words = state.listening_for
        return words[1] if len(words) > 1 else NO_WAKE_WORD

    async def async_select_option(self, option: str) -> None:
        """Ask the satellite to listen for this wake word too (or only for the first)."""
        state = self.satellite.state
        first = state.wake_word if state else None
        if first is None:  # it has not reported its wake word yet
            raise self.not_connected()
        words = (first,) if option == NO_WAKE_WORD else (first, option)
        await self.async_request(
            self.satellite.connection.async_configure(Configure(wake_words=words))
        )


class SottoSensitivitySelect(SottoSatelliteEntity, SelectEntity):
    """How easily the wake word triggers."""

    @property
    def current_option(self) -> str | None:
        """The level closest to the satellite's reported sensitivity."""
        state = self.satellite.state
        if state is None or (sensitivity := state.sensitivity) is None:
            return None
        return min(SENSITIVITY_LEVELS, key=lambda k: abs(SENSITIVITY_LEVELS[k] - sensitivity))

    async def async_select_option(self, option: str) -> None:
        """Ask the satellite to use another sensitivity."""
        change = Configure(sensitivity=SENSITIVITY_LEVELS[option])
        await self.async_request(self.satellite.connection.async_configure(change))
