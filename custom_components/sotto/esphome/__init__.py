"""ESPHome voice satellites, served through the same pipeline bridge as Sotto's own.

`transport` translates ESPHome's native API to Sotto's events, `entry` sets an entry up,
and `flow` holds the config flow's ESPHome steps.
"""

from __future__ import annotations

from .entry import async_remove_esphome_ledger, async_setup_esphome_entry
from .flow import ESPHOME_SERVICE_TYPE, EsphomeFlowSteps
from .transport import EsphomeTransport

__all__ = [
    "ESPHOME_SERVICE_TYPE",
    "EsphomeFlowSteps",
    "EsphomeTransport",
    "async_remove_esphome_ledger",
    "async_setup_esphome_entry",
]
