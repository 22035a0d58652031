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
