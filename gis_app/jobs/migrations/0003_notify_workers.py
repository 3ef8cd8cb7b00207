"""A queued job wakes the workers at once: PostgreSQL NOTIFY on the `gis_app_jobs` channel when a job is inserted or put
back in the queue (workers LISTEN, and still poll as a fallback)."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION jobs_job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('gis_app_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS jobs_job_notify ON jobs_job;
CREATE TRIGGER jobs_job_notify AFTER INSERT OR UPDATE OF status ON jobs_job
    FOR EACH ROW EXECUTE FUNCTION jobs_job_notify();
"""

REVERSE = "DROP TRIGGER IF EXISTS jobs_job_notify ON jobs_job; DROP FUNCTION IF EXISTS jobs_job_notify();"


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_periodic_unique_key")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
