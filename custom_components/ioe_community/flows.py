"""Following the home's measured flows: their entities' states, through model changes.

An entity that shows a figure made from the home's flows (its consumption, its import now)
follows the entities of the energy model's terms it needs: it is called back when one of their
states changes and when the model is rebuilt (a device added, changed or removed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_state_change_event

from . import signal_energy_model
from .devices.energy_model import EnergyModel, Estimate, Term
from .energy_entities import state_in_model_unit

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

type Terms = Callable[[EnergyModel], tuple[Term, ...] | None]


class FlowTracker:
    """Calls ``changed`` when a followed flow's state or the home's model changes."""

    def __init__(
        self, entry: IoeCommunityConfigEntry, terms: Terms, changed: Callable[[], None]
    ) -> None:
        """Follow the flows ``terms`` picks from the home's model (from ``async_start`` on)."""
        self._hass: HomeAssistant | None = None
        self._entry = entry
        self._terms = terms
        self._changed = changed
        self._states: CALLBACK_TYPE | None = None

    @property
    def model(self) -> EnergyModel | None:
        """The home's energy model (None until the devices are set up)."""
        return self._entry.runtime_data.energy_model

    @callback
    def async_start(self, hass: HomeAssistant) -> CALLBACK_TYPE:
        """Follow the flows now and whenever the model is rebuilt; return how to stop."""
        self._hass = hass
        stop_model = async_dispatcher_connect(
            hass, signal_energy_model(self._entry.entry_id), self._follow_model
        )
        if self.model is not None:
            self._follow_model()

        @callback
        def stop() -> None:
            stop_model()
            self._stop_states()

        return stop

    def estimate(self, quantity: str) -> Estimate | None:
        """Return ``quantity`` (in the model's unit) from the followed flows' states."""
        model = self.model
        terms = None if model is None else self._terms(model)
        if self._hass is None or model is None or not terms:
            return None
        readings: Mapping[str, float | None] = {
            term.source: state_in_model_unit(self._hass.states.get(term.source), quantity)
            for term in terms
        }
        return model.estimate(quantity, readings)

    @callback
    def _stop_states(self) -> None:
        if self._states is not None:
            self._states()
            self._states = None

    @callback
    def _follow_model(self) -> None:
        self._stop_states()
        model = self.model
        terms = None if model is None else self._terms(model)
        if terms and self._hass is not None:
            self._states = async_track_state_change_event(
                self._hass, sorted({term.source for term in terms}), self._flow_changed
            )
        self._changed()

    @callback
    def _flow_changed(self, _event: Event[EventStateChangedData]) -> None:
        self._changed()
