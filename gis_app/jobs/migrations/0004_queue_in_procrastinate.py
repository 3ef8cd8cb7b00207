"""The queue moved to Procrastinate (its own tables, its own NOTIFY): the jobs table no longer wakes workers."""

from django.db import migrations

FORWARD = "DROP TRIGGER IF EXISTS jobs_job_notify ON jobs_job; DROP FUNCTION IF EXISTS jobs_job_notify();"

REVERSE = """
CREATE OR REPLACE FUNCTION jobs_job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('gis_app_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_job_notify AFTER INSERT OR UPDATE OF status ON jobs_job
    FOR EACH ROW EXECUTE FUNCTION jobs_job_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_notify_workers"), ("procrastinate", "__latest__")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
