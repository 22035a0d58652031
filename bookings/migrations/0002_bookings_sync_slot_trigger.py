"""Trigger bookings_sync_slot: slots.booked_count always equals the slot's CONFIRMED bookings
and the slot's status follows it. Services never write booked_count."""

from django.db import migrations

CREATE = """
CREATE FUNCTION bookings_sync_slot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A CONFIRMED booking leaves its slot: cancelled, deleted, or moved to another slot.
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'CONFIRMED'
       AND (TG_OP = 'DELETE' OR NEW.status <> 'CONFIRMED' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE slots
           SET booked_count = booked_count - 1,
               status = CASE WHEN status = 'CANCELLED' THEN status ELSE 'AVAILABLE' END,
               updated_at = date_trunc('milliseconds', clock_timestamp())
         WHERE id = OLD.slot_id;
    END IF;
    -- A CONFIRMED booking arrives on a slot. Beyond capacity, or on a cancelled slot, the
    -- CHECKs slots_booked_within_capacity / slots_status_matches_count reject the statement.
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'CONFIRMED'
       AND (TG_OP = 'INSERT' OR OLD.status <> 'CONFIRMED' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE slots
           SET booked_count = booked_count + 1,
               status = CASE
                   WHEN status = 'CANCELLED' THEN status
                   WHEN booked_count + 1 >= capacity THEN 'BOOKED'
                   ELSE 'AVAILABLE' END,
               updated_at = date_trunc('milliseconds', clock_timestamp())
         WHERE id = NEW.slot_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER bookings_sync_slot
AFTER INSERT OR DELETE OR UPDATE OF status, slot_id ON bookings
FOR EACH ROW EXECUTE FUNCTION bookings_sync_slot();
"""

DROP = """
DROP TRIGGER IF EXISTS bookings_sync_slot ON bookings;
DROP FUNCTION IF EXISTS bookings_sync_slot();
"""


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial"), ("slots", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
