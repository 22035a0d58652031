from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bookings.dispatch import queued_broker_probe
        from core.api.health import register_probe

        # Queued mode cannot book without its broker: /api/health then checks Redis too.
        register_probe("redis", queued_broker_probe)

        from bookings.queue_metrics import BookingQueueCollector
        from core.metrics.views import register_collector

        register_collector(BookingQueueCollector())

        from bookings.places import places_settle, slot_close_waiters
        from slots.hooks import register_slot_hooks

        # Capacity raised or slot closed: holds and the waitlist settle in the same transaction.
        register_slot_hooks(settle=places_settle, close=slot_close_waiters)
