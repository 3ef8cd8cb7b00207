"""The queue moved to Procrastinate (its own tables, its own NOTIFY): the jobs table no longer wakes workers."""

from importlib import import_module

from django.db import migrations

FORWARD = "DROP TRIGGER IF EXISTS jobs_job_notify ON jobs_job; DROP FUNCTION IF EXISTS jobs_job_notify();"
REVERSE = import_module("gis_app.jobs.migrations.0003_notify_workers").SQL  # the trigger as it was


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_notify_workers")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
