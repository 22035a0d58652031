"""booking_events is append-only: UPDATE and DELETE are rejected by a trigger."""

from django.db import migrations

CREATE = """
CREATE FUNCTION booking_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'booking_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'integrity_constraint_violation',
              CONSTRAINT = 'booking_events_append_only';
END;
$$;

CREATE TRIGGER booking_events_append_only
BEFORE UPDATE OR DELETE ON booking_events
FOR EACH ROW EXECUTE FUNCTION booking_events_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS booking_events_append_only ON booking_events;
DROP FUNCTION IF EXISTS booking_events_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("bookings", "0003_events_and_idempotency")]

    operations = [migrations.RunSQL(CREATE, DROP)]
