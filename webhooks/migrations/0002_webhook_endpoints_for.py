"""webhook_endpoints_for(): which active endpoints receive an event, as one SQL function.

Both writers of the outbox use it, the batch insert of webhooks.events.emit() and the booking
statement of the bookings app, so the rule "the owner is concerned and asked for the type, or
the endpoint takes every event" is stated once. A single-SELECT SQL function is inlined by the
planner: the batch insert stays one set-based join.
"""

from django.db import migrations

ENDPOINTS_FOR = """
CREATE OR REPLACE FUNCTION webhook_endpoints_for(event_type varchar, concerned uuid[])
RETURNS SETOF uuid LANGUAGE sql STABLE AS $fn$
    SELECT e.id FROM webhook_endpoints e
     WHERE e.is_active
       AND (e.all_events OR (e.owner_id = ANY(concerned) AND event_type = ANY(e.events)))
$fn$;
"""

DROP = "DROP FUNCTION IF EXISTS webhook_endpoints_for(varchar, uuid[]);"


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunSQL(ENDPOINTS_FOR, DROP)]
