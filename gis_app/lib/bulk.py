"""Writing many new rows with PostgreSQL COPY: a bulk INSERT of 10,000 rows spends most of its time building the query
(Django compiles every value into SQL); COPY streams them. Row triggers (history, tile versions) fire as for INSERT.

Values are prepared as save() would: `pre_save` first (auto_now dates set on the objects too); geometries as EWKB;
plain values (text, numbers, booleans, dates, aware datetimes, uuids) handed to psycopg as they are, which adapts them
as Django's own preparation would for PostgreSQL; anything else (JSON, naive datetimes, other field types) through the
field's `get_db_prep_save`."""

import datetime
import uuid
from decimal import Decimal

from django.contrib.gis.db.models import GeometryField
from django.db import connection

PLAIN_FIELDS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "FloatField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
    "UUIDField",
}
PLAIN_VALUES = (str, int, float, Decimal, datetime.date, uuid.UUID)  # bool is an int; datetime is a date


def copy_in(model, objs: list) -> None:
    """Inserts `objs` (unsaved instances of `model`) without their primary keys (the database numbers them)."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    kinds = []
    for f in fields:
        if isinstance(f, GeometryField):
            kinds.append("geometry")
        elif f.get_internal_type() in PLAIN_FIELDS:
            kinds.append("plain")
        else:
            kinds.append("prepared")
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cur, cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objs:
            row = []
            for f, kind in zip(fields, kinds, strict=True):
                value = f.pre_save(obj, add=True)
                if value is None:
                    row.append(None)
                elif kind == "geometry":
                    row.append(value.ewkb.hex())
                elif kind == "plain" and isinstance(value, PLAIN_VALUES) and not _naive(value):
                    row.append(value)
                else:
                    row.append(f.get_db_prep_save(value, connection))
            copy.write_row(row)


def _naive(value) -> bool:
    """A naive datetime is made aware by Django in the current time zone; psycopg would send it as UTC."""
    return isinstance(value, datetime.datetime) and value.tzinfo is None
