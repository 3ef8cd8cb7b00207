"""The stale trigger as 0003 created it skipped rows a refresh had just claimed (`WHERE NOT stale`), so a write
made while a home was being counted could be missed. The fix (ae8151c, gis_app/lib/snapshots.py) reached only
databases migrated after it; this replaces the function everywhere with the one that matches the home's rows
whatever their flag and locks them in id order. The SQL is frozen here."""

from django.db import migrations

FIXED_0 = """
        CREATE OR REPLACE FUNCTION inspections_schedulefigures_from_inspections_inspection_stale() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                UPDATE inspections_schedulefigures SET stale = true WHERE id IN (SELECT id FROM inspections_schedulefigures WHERE care_home_id IN (SELECT care_home_id FROM changed_new) ORDER BY id FOR UPDATE);
            END IF;
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                UPDATE inspections_schedulefigures SET stale = true WHERE id IN (SELECT id FROM inspections_schedulefigures WHERE care_home_id IN (SELECT care_home_id FROM changed_old) ORDER BY id FOR UPDATE);
            END IF;
            RETURN NULL;
        END $$;"""
RACY_0 = """
        CREATE OR REPLACE FUNCTION inspections_schedulefigures_from_inspections_inspection_stale() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                UPDATE inspections_schedulefigures SET stale = true
                WHERE NOT stale AND care_home_id IN (SELECT care_home_id FROM changed_new);
            END IF;
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                UPDATE inspections_schedulefigures SET stale = true
                WHERE NOT stale AND care_home_id IN (SELECT care_home_id FROM changed_old);
            END IF;
            RETURN NULL;
        END $$;"""


class Migration(migrations.Migration):
    dependencies = [("inspections", "0003_stored_schedule_figures")]

    operations = [
        migrations.RunSQL(FIXED_0, RACY_0),
    ]
