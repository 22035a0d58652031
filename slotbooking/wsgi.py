"""WSGI entry point for gunicorn: `gunicorn slotbooking.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

from slotbooking.startup import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
settings_or_exit()  # a bad setting stops the server with one line, not a traceback per worker
application = get_wsgi_application()
