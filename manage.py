#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    from django.core.management import execute_from_command_line

    from slotbooking.startup import settings_or_exit

    settings_or_exit()  # a bad setting stops here with one line naming the variable
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
