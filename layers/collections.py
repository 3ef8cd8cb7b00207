"""What the OGC API serves: every catalogue layer, and two reference collections a desktop GIS needs beside them — the
care homes (养老机构) and the 街镇 boundaries — each scoped like the rest of the platform. One interface for all of them:
a scoped queryset, filters (datetime, bbox, queryables), rows with PostGIS-serialised geometry, GeoJSON text, and the
queryables (the catalogue's fields, typed)."""

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.gis.db.models import Extent
from django.db.models import F
from django.utils.dateparse import parse_date

from gis_app.carehomes.models import CareHome, CareHomeStatus, Ownership, Subdistrict, SubdistrictKind
from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts

from . import queries
from .catalogue import CATALOGUE, Field, Layer, ValueList

# query parameters with a meaning of their own: never read as a queryable property
RESERVED = frozenset(
    {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "f", "care_home", "subdistrict", "status"}
)


def _value_list(key: str, choices) -> ValueList:
    return ValueList(key, tuple((str(code), str(label)) for code, label in choices))


def queryables(fields: tuple[Field, ...]) -> list[Field]:
    """The fields a client may filter on with `name=value`: stored ones (not computed), not a reserved name."""
    return [f for f in fields if f.kind != "computed" and f.name not in RESERVED]


def parse_queryable(field: Field, raw: str):
    """The typed value of `name=value`, or QueryError naming the parameter and what it takes."""
    try:
        if field.values is not None:
            if raw not in field.values.codes:
                raise ValueError(f"expected one of {', '.join(field.values.codes)}")
            return raw
        if field.kind == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return raw.lower() == "true"
        if field.kind == "int":
            if not raw.lstrip("-").isdigit() or len(raw) > 12:
                raise ValueError("expected an integer")
            return int(raw)
        if field.kind == "decimal":
            value = Decimal(raw)
            if not value.is_finite() or abs(value) > 10**9:
                raise ValueError("expected a number")
            return value
        if field.kind == "date":
            day = parse_date(raw) if len(raw) == 10 else None
            if day is None:
                raise ValueError("expected a date YYYY-MM-DD")
            return day
        if len(raw) > 200 or "\x00" in raw:
            raise ValueError("expected a text of at most 200 characters")
        return raw
    except (ValueError, InvalidOperation) as exc:
        message = str(exc) if str(exc).startswith("expected") else f"expected a {field.kind} value"
        raise queries.QueryError(field.name, message) from None


def queryable_filters(fields: tuple[Field, ...], qs, params, column=lambda name: name):
    for field in queryables(fields):
        if field.name in params:
            qs = qs.filter(**{column(field.name): parse_queryable(field, params[field.name])})
    return qs


@dataclass(frozen=True)
class LayerCollection:
    """A catalogue layer, as queries.py reads it."""

    layer: Layer

    @property
    def key(self) -> str:
        return self.layer.key

    @property
    def title(self) -> str:
        return self.layer.title

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.layer.fields

    @property
    def geometry(self) -> tuple[str, ...]:
        return self.layer.geometry

    @property
    def geometry_field(self) -> str:
        return self.layer.geometry_field

    @property
    def model(self):
        return self.layer.get_model()

    def scoped(self, user):
        return queries.scoped(self.layer, user)

    def filtered(self, qs, params):
        qs = queries.filtered(self.layer, qs, params)
        return queryable_filters(self.fields, qs, params)

    def rows(self, qs, srid=None):
        return queries.feature_rows(self.layer, qs, srid)

    def feature_json(self, row) -> str:
        return queries.feature_json(self.layer, row)


@dataclass(frozen=True)
class Reference:
    """A reference collection: read-only, its own model, fields declared like the catalogue's."""

    key: str
    title: str
    description: str
    geometry: tuple[str, ...]
    geometry_field: str
    fields: tuple[Field, ...]
    columns: dict  # property name -> ORM expression (F(...)) for values()
    id_column: str

    @property
    def model(self):
        return {"carehome": CareHome, "subdistrict": Subdistrict}[self.key]

    def scoped(self, user):
        return visible_carehomes(user) if self.key == "carehome" else visible_subdistricts(user)

    def filtered(self, qs, params):
        qs = queries.when_and_where(qs, params, self.geometry_field)
        if params.get("subdistrict"):
            qs = qs.filter(**{"subdistrict__code" if self.key == "carehome" else "code": params["subdistrict"]})
        if params.get("status") and self.key == "carehome":
            qs = qs.filter(status=parse_queryable(self._field("status"), params["status"]))
        return queryable_filters(self.fields, qs, params, column=self.columns.__getitem__)

    def _field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def rows(self, qs, srid=None):
        names = {name: F(path) for name, path in self.columns.items()}
        return (
            qs.annotate(geojson=queries.output_geojson(self.geometry_field, srid))
            .order_by(self.id_column)
            .values(self.id_column, "geojson", **{f"p_{k}": v for k, v in names.items()})
        )

    def feature_json(self, row) -> str:
        props = {}
        for f in self.fields:
            value = row.get(f"p_{f.name}")
            props[f.name] = queries.jsonable(value)
            if f.values is not None and value is not None:
                props[f"{f.name}_label"] = f.values.label(str(value))
        return (
            f'{{"type":"Feature","id":{json.dumps(row[self.id_column])},"geometry":{row["geojson"] or "null"},'
            f'"properties":{json.dumps(props, ensure_ascii=False)}}}'
        )

    def lookup(self, fid: str) -> dict | None:
        if self.key == "carehome":
            return {"pk": int(fid)} if fid.isdigit() and len(fid) < 12 else None
        return {"code": fid} if len(fid) <= 12 else None


CAREHOMES = Reference(
    key="carehome",
    title="养老机构",
    description="养老机构位置（点），含名称、地址、所属街镇、床位与在院老人数",
    geometry=("Point",),
    geometry_field="location",
    fields=(
        Field("name", "机构名称", "text"),
        Field("address", "地址", "text"),
        Field("subdistrict_code", "街镇代码", "text"),
        Field("subdistrict_name", "所属街镇", "text"),
        Field("ownership", "性质", "choice", values=_value_list("ownership", Ownership.choices)),
        Field("status", "状态", "choice", values=_value_list("carehome_status", CareHomeStatus.choices)),
        Field("beds", "床位数", "int"),
        Field("residents", "在院老人数", "int"),
        Field("residents_full_care", "失能（全护理）老人数", "int"),
    ),
    columns={
        "name": "name",
        "address": "address",
        "subdistrict_code": "subdistrict__code",
        "subdistrict_name": "subdistrict__name",
        "ownership": "ownership",
        "status": "status",
        "beds": "beds",
        "residents": "residents",
        "residents_full_care": "residents_full_care",
    },
    id_column="id",
)

SUBDISTRICTS = Reference(
    key="subdistrict",
    title="街镇边界",
    description="街镇（街道、镇）行政边界（面），含区划代码与名称",
    geometry=("MultiPolygon",),
    geometry_field="boundary",
    fields=(
        Field("code", "区划代码", "text"),
        Field("name", "名称", "text"),
        Field("kind", "类型", "choice", values=_value_list("subdistrict_kind", SubdistrictKind.choices)),
        Field("boundary_is_approximate", "边界为近似", "bool"),
    ),
    columns={"code": "code", "name": "name", "kind": "kind", "boundary_is_approximate": "boundary_is_approximate"},
    id_column="code",
)

COLLECTIONS = [LayerCollection(layer) for layer in CATALOGUE] + [CAREHOMES, SUBDISTRICTS]
BY_KEY = {c.key: c for c in COLLECTIONS}


def extent(collection, qs):
    return qs.aggregate(e=Extent(collection.geometry_field))["e"]
