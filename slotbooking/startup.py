"""Start-up guard of manage.py and the WSGI app: a bad setting is one line, not a traceback.

Every setting helper in slotbooking/settings.py raises ImproperlyConfigured with a message that
names the variable and what it accepts; this prints that message alone and exits with status 2
(a usage or environment error, like the management commands).
"""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured


def settings_or_exit() -> None:
    """Load the settings now; on ImproperlyConfigured print one line to stderr and exit 2."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018  # the first access imports the settings module
    except ImproperlyConfigured as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        sys.stderr.write(f"Configuration error: {message}\n")
        raise SystemExit(2) from None
