"""Ready a satellite's conversation agent when the satellite is, not at its first command.

HA's default agent loads its sentences for a language the first time a pipeline runs,
and compiles each sentence template into a regular expression the first time it matches
a text: together about a second of work holding Python's interpreter lock, in the middle
of the first command after every restart, which also held up the recogniser reading that
command (bench/scale.py: intent recognition 0.85 s instead of 0.02 s). Here both happen
once a satellite is there, by recognising a text that matches nothing: nothing is run or
recorded. Satellites share the work: one agent and language is prepared once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Final

from homeassistant.components import conversation
from homeassistant.components.assist_pipeline.error import PipelineNotFound
from homeassistant.components.assist_pipeline.pipeline import async_get_pipeline
from homeassistant.components.conversation.agent_manager import async_get_agent
from homeassistant.components.conversation.default_agent import DefaultAgent
from homeassistant.core import Context, HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

# No sentence matches it, so every template is tried (and compiled) once.
_WARMING_TEXT: Final = "sotto is getting ready"


@dataclass(slots=True)
class _Prepared:
    """Agents and languages already prepared in this Home Assistant."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: set[tuple[str, str]] = field(default_factory=set)


_PREPARED: HassKey[_Prepared] = HassKey(f"{DOMAIN}_prepared_agents")


async def async_prepare_agent(hass: HomeAssistant, pipeline_id: str | None) -> None:
    """Load and compile what the pipeline's conversation agent needs for its language."""
    try:
        pipeline = async_get_pipeline(hass, pipeline_id)
    except PipelineNotFound as err:  # gone since: its agent gets ready at first use
        _LOGGER.debug("Pipeline %s not found, no agent prepared: %s", pipeline_id, err)
        return
    agent_id = pipeline.conversation_engine
    language = pipeline.language or hass.config.language
    prepared = hass.data.setdefault(_PREPARED, _Prepared())
    async with prepared.lock:  # one at a time: compiling twice at once costs twice
        if (agent_id, language) in prepared.done:
            return
        try:
            await conversation.async_prepare_agent(hass, agent_id, language)
        except ValueError as err:  # an agent that is gone
            _LOGGER.debug("Conversation agent %s not prepared: %s", agent_id, err)
            return
        agent = async_get_agent(hass, agent_id)
        if isinstance(agent, DefaultAgent):
            await agent.async_recognize_intent(
                conversation.ConversationInput(
                    text=_WARMING_TEXT,
                    context=Context(),
                    conversation_id=None,
                    device_id=None,
                    satellite_id=None,
                    language=language,
                    agent_id=agent_id,
                ),
                # Exposed entities only: a text that matches nothing otherwise goes on to
                # every entity in a worker thread, where HA decides the exposure of any
                # entity added since in the entity registry (not thread-safe), which
                # happens at start-up while integrations add their entities.
                strict_intents_only=True,
            )
        prepared.done.add((agent_id, language))
