from django.db import migrations

# The history of a hazard is evidence: PostgreSQL itself refuses to change or delete a row, whoever asks
# (the ORM, the admin, a psql session). TRUNCATE (test isolation) is a different statement and is not affected.
SQL = """
CREATE FUNCTION hazards_event_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hazard history is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER hazards_event_append_only BEFORE UPDATE OR DELETE ON hazards_hazardevent
    FOR EACH ROW EXECUTE FUNCTION hazards_event_is_append_only();
"""
REVERSE = """
DROP TRIGGER hazards_event_append_only ON hazards_hazardevent;
DROP FUNCTION hazards_event_is_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("hazards", "0001_ledger")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
