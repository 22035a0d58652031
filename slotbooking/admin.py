"""The admin site's own look: its name, where "View site" leads, and what it leaves out."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group

admin.site.site_header = "Slot Booking"
admin.site.site_title = "Slot Booking"
admin.site.index_title = "Back-office"
# "View site" opens the API documentation (Swagger UI), not the raw JSON of the root.
admin.site.site_url = "/docs"

# The lists need the width (they must fit a 1400 px laptop screen); the home page and the
# breadcrumbs lead everywhere the sidebar did.
admin.site.enable_nav_sidebar = False

# Permissions come from is_staff / is_superuser and the user's roles; groups are not used.
admin.site.unregister(Group)
