"""Writing many new rows with PostgreSQL COPY: a bulk INSERT of 10,000 rows spends most of its time building the query
(Django compiles every value into SQL); COPY streams them. Row triggers (history, tile versions) fire as for INSERT.

Values are prepared as save() would: `pre_save` first (auto_now dates set on the objects too); geometries as EWKB;
values of exactly the column's own Python type (text, integers, booleans, decimals, dates, aware datetimes, uuids)
handed to psycopg as they are, which sends them as Django's preparation would; anything else (JSON, files, a float
for an integer, a naive datetime…) through the field's `get_db_prep_save`."""

import datetime
import uuid
from decimal import Decimal

from django.contrib.gis.db.models import GeometryField
from django.db import connection


def _exactly(*types):
    return lambda value: type(value) in types


def _aware(value) -> bool:  # a naive one Django makes aware in the current time zone; psycopg would send it as UTC
    return type(value) is datetime.datetime and value.tzinfo is not None


# Per column type, the Python values psycopg sends exactly as Django's preparation would for PostgreSQL; any other
# value (a float for an integer, text for a uuid, a datetime for a date…) goes through the field's own preparation.
PLAIN = {
    **dict.fromkeys(["CharField", "TextField", "SlugField"], _exactly(str)),
    **dict.fromkeys(
        [
            "AutoField",
            "BigAutoField",
            "BigIntegerField",
            "IntegerField",
            "PositiveBigIntegerField",
            "PositiveIntegerField",
            "PositiveSmallIntegerField",
            "SmallIntegerField",
            "ForeignKey",
        ],
        _exactly(int),
    ),
    "BooleanField": _exactly(bool),
    "DecimalField": _exactly(Decimal),
    "FloatField": _exactly(float, int),
    "DateField": _exactly(datetime.date),
    "DateTimeField": _aware,
    "UUIDField": _exactly(uuid.UUID),
}


def copy_in(model, objs: list) -> None:
    """Inserts `objs` (unsaved instances of `model`) without their primary keys (the database numbers them)."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plain = [None if isinstance(f, GeometryField) else PLAIN.get(f.get_internal_type()) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cur, cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objs:
            row = []
            for f, passes in zip(fields, plain, strict=True):
                value = f.pre_save(obj, add=True)
                if value is None:
                    row.append(None)
                elif isinstance(f, GeometryField):
                    row.append(value.ewkb.hex())
                elif passes is not None and passes(value):
                    row.append(value)
                else:
                    row.append(f.get_db_prep_save(value, connection))
            copy.write_row(row)
