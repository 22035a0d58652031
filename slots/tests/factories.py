from __future__ import annotations

from datetime import timedelta

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import HostFactory
from core.db.instants import now_ms
from slots.models import Slot


class SlotFactory(DjangoModelFactory[Slot]):
    class Meta:
        model = Slot

    host = factory.SubFactory(HostFactory)
    # An hour apart per instance, so slots of one host never trip slots_no_overlap.
    start_time = factory.Sequence(
        lambda n: now_ms().replace(second=0, microsecond=0) + timedelta(days=1, hours=n)
    )
    end_time = factory.LazyAttribute(lambda slot: slot.start_time + timedelta(hours=1))
