"""The layer models, built from the catalogue (layers/catalogue.py): one table per layer, each feature tied to one care
home, keyed by a stable uuid (the key QField uses). Edit the catalogue, then `makemigrations layers`."""

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.core.validators import MaxValueValidator, MinValueValidator

from gis_app.lib.history import tracked
from gis_app.lib.srid import WGS84

from .catalogue import Field, Layer, own_layers

GEOMETRY_FIELDS = {
    ("Point",): models.PointField,
    ("LineString",): models.LineStringField,
    ("Polygon",): models.PolygonField,
}


class Feature(models.Model):
    uuid = models.UUIDField("UUID", default=uuid.uuid4, unique=True, editable=False)
    care_home = models.ForeignKey(
        "carehomes.CareHome", verbose_name="养老机构", on_delete=models.CASCADE, related_name="+"
    )
    note = models.TextField("备注", blank=True)
    surveyed_on = models.DateField("调查日期", null=True, blank=True)
    surveyed_by = models.CharField("调查人", max_length=50, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="创建人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="更新人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {str(self.uuid)[:8]}"


def _django_field(f: Field):
    validators = []
    if f.min is not None:
        validators.append(MinValueValidator(f.min))
    if f.max is not None:
        validators.append(MaxValueValidator(f.max))
    label = f"{f.label}（{f.unit}）" if f.unit else f.label
    if f.kind == "text":
        return models.CharField(label, max_length=200, blank=not f.required, help_text=f.help)
    if f.kind == "choice":
        return models.CharField(label, max_length=20, choices=f.values.values, blank=not f.required, help_text=f.help)
    if f.kind == "bool":
        return models.BooleanField(label, null=True, blank=True, help_text=f.help)
    if f.kind == "int":
        return models.IntegerField(
            label, null=not f.required, blank=not f.required, validators=validators, help_text=f.help
        )
    if f.kind in ("decimal", "computed"):
        return models.DecimalField(label, max_digits=9, decimal_places=2, null=True, blank=True, validators=validators,
                                   help_text=f.help, editable=f.kind != "computed")  # fmt: skip
    if f.kind == "date":
        return models.DateField(label, null=True, blank=True, help_text=f.help)
    raise ValueError(f"unknown field kind {f.kind!r} in {f.name}")


def _build(layer: Layer) -> type[models.Model]:
    geometry = GEOMETRY_FIELDS.get(layer.geometry, models.GeometryField)
    attrs = {
        "__module__": __name__,
        "__doc__": f"{layer.title} ({layer.key}), from the layer catalogue.",
        "Meta": type("Meta", (), {"verbose_name": layer.title, "verbose_name_plural": layer.title,
                                  "indexes": [models.Index(fields=["care_home"], name=f"{layer.key}_home_idx")]}),
        layer.geometry_field: geometry("几何", srid=WGS84),
    }  # fmt: skip
    for f in layer.fields:
        attrs[f.name] = _django_field(f)
    return type(layer.model_name, (Feature,), attrs)


for _layer in own_layers():
    # Every site-plan layer keeps its history (insert, update, delete with the values before and after).
    globals()[_layer.model_name] = tracked(_build(_layer))


class FeaturePhoto(models.Model):
    """Photos of any layer's feature, by layer key and the feature's uuid (as QField's DCIM files arrive)."""

    layer = models.CharField("图层", max_length=40)
    feature_uuid = models.UUIDField("要素UUID", db_index=True)
    care_home = models.ForeignKey("carehomes.CareHome", on_delete=models.CASCADE, related_name="+")
    image = models.ImageField("照片", upload_to="features/%Y/%m/")
    taken_at = models.DateTimeField("时间", auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "要素照片"


class TileVersion(models.Model):
    """The version of each layer's data that cached tiles carry in their key. PostgreSQL triggers (layers/versions.py)
    advance it on every committed change of the layer's table, whoever writes: a web request, the job worker's QField
    import, the ledger's services, the admin or SQL. Every process reads the same number, so none serves stale tiles."""

    layer = models.CharField("图层", max_length=40, primary_key=True)
    version = models.BigIntegerField("版本")

    class Meta:
        db_table = "layers_tile_version"
        verbose_name = verbose_name_plural = "瓦片版本"
