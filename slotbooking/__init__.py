"""The project package. It exports the Celery app, so `celery -A slotbooking` finds it and
`@shared_task` binds to it wherever Django runs."""

from slotbooking.celery import app as celery_app

__all__ = ("celery_app",)
