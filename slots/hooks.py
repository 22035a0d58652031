"""What slot services tell the apps above them, inside their transaction, under the slot lock.

Slots know nothing of holds or waitlists, yet changing a slot's capacity or closing it must
settle them in the same transaction. The bookings app registers its functions here at start-up
(AppConfig.ready), so the imports still point one way.
"""

from __future__ import annotations

from collections.abc import Callable

from slots.models import Slot

_settle: list[Callable[[Slot], None]] = []
_close: list[Callable[[Slot], bool]] = []


def register_slot_hooks(*, settle: Callable[[Slot], None], close: Callable[[Slot], bool]) -> None:
    """`settle(slot)`: places may have freed (capacity raised), offer them. `close(slot)`: the
    slot is being deleted or cancelled; end what waits on it and say whether anything did."""
    if settle not in _settle:
        _settle.append(settle)
    if close not in _close:
        _close.append(close)


def slot_settle(slot: Slot) -> None:
    for settle in _settle:
        settle(slot)


def slot_close(slot: Slot) -> bool:
    """True when something besides bookings (holds, waitlist entries) referred to the slot, so
    it has history and is cancelled rather than deleted."""
    had_history = False
    for close in _close:
        had_history = close(slot) or had_history
    return had_history
