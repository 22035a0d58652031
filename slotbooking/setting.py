"""Print one setting's value and nothing else: `python -m slotbooking.setting BOOKING_MODE`.

The Makefile branches on settings (which mode to start). `manage.py shell -c` is no way to read
one: the shell may print other lines first (Django 5.2 announces its automatic imports). This
module only loads the settings, without setting up the apps, and prints the value alone.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write(__doc__ or "")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    from django.conf import settings

    value = getattr(settings, argv[0], None)
    if value is None:
        sys.stderr.write(f"error: no setting named {argv[0]}\n")
        return 2
    sys.stdout.write(f"{value}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
