"""Who may do what with field projects, and resolving conflicts."""

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils import timezone

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.lib.srid import WGS84
from layers.catalogue import FIELD_EDITORS, own_layers
from layers.services import FeatureError, save_feature

from .canonical import digest
from .canonical import geometry as canonical_geometry
from .models import Conflict, ConflictStatus, FieldProject, Snapshot
from .spec import ScopeError, feature_digest, resolve_scope

LAYERS = {layer.key: layer for layer in own_layers()}


class FieldError(ValueError):
    pass


def can_sync(user) -> bool:
    """Bringing field work in writes features through the layer services: only roles that may edit site plans."""
    return role_of(user) in FIELD_EDITORS


def visible_projects(user):
    """A project is visible when every home of its scope is visible to the user (scope keys name the homes)."""
    if role_of(user) == Role.BUREAU:
        return list(FieldProject.objects.all())
    visible = set(visible_carehomes(user).values_list("pk", flat=True))
    out = []
    for project in FieldProject.objects.all():
        try:
            homes = {h.pk for h in resolve_scope(project.scope).homes}
        except ScopeError:
            continue
        if homes <= visible:
            out.append(project)
    return out


def resolve_conflict(user, conflict: Conflict, *, take_field: bool) -> None:
    if conflict.status != ConflictStatus.OPEN:
        raise FieldError("该冲突已处理")
    layer = LAYERS.get(conflict.layer)
    with transaction.atomic():
        if take_field:
            if layer is None or conflict.kind not in ("both_changed", "deleted_on_web") or not conflict.field:
                raise FieldError("此类冲突只能保留平台数据（外业数据请在云端或平板上核对后重新采集）")
            current = layer.get_model().objects.filter(uuid=conflict.uuid).first()
            home_id = current.care_home_id if current is not None else conflict.field.get("care_home_id")
            if conflict.kind == "deleted_on_web" and current is not None:
                raise FieldError("该要素已在平台恢复")
            if conflict.kind == "both_changed" and current is None:
                raise FieldError("要素不存在或无权修改")
            home = visible_carehomes(user).filter(pk=home_id).first()
            if home is None:
                raise FieldError("要素不存在或无权修改")
            data = {k: v for k, v in conflict.field.items() if k not in ("uuid", "care_home_id", "geometry", "photo")}
            try:
                wkt = conflict.field.get("geometry")  # written by the importer from the field GeoPackage
                geometry = GEOSGeometry(wkt, srid=WGS84) if wkt else None
                feature = save_feature(
                    layer,
                    by=user,
                    home=home,
                    geometry=geometry,
                    attributes=data,
                    instance=current,
                    uuid=conflict.uuid if current is None else None,
                )
            except FeatureError as exc:
                raise FieldError("；".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
            feature.refresh_from_db()
            Snapshot.objects.update_or_create(project=conflict.project, layer=layer.key, uuid=conflict.uuid,
                                              defaults={"digest": feature_digest(layer, feature)})  # fmt: skip
        elif conflict.kind in ("both_changed", "deleted_on_web") and conflict.field:
            # Keep the web version; remember the field's version as seen so the next pull does not raise it again.
            field_attrs = {k: v for k, v in conflict.field.items() if k != "geometry"}
            Snapshot.objects.update_or_create(
                project=conflict.project, layer=conflict.layer, uuid=conflict.uuid,
                defaults={"digest": digest(conflict.layer, field_attrs, conflict.field.get("geometry"))})  # fmt: skip
        conflict.status = ConflictStatus.TOOK_FIELD if take_field else ConflictStatus.KEPT_WEB
        conflict.resolved_by, conflict.resolved_at = user, timezone.now()
        conflict.save(update_fields=["status", "resolved_by", "resolved_at"])


COMMON_LABELS = {"note": "备注", "surveyed_on": "调查日期", "surveyed_by": "调查人", "geometry": "位置/形状"}
HIDDEN = {"uuid", "care_home_id", "photo", "photo_before"}


def _shown(field, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None and field.values is not None:
        return field.values.label(str(value))
    return str(value)


def conflict_rows(conflict: Conflict) -> list[tuple[str, str, str]]:
    """(field label, the platform's value, the field's value) for what differs, in Chinese: never raw names or codes."""
    layer = LAYERS.get(conflict.layer)
    fields = {f.name: f for f in layer.fields} if layer is not None else {}
    web, field = conflict.web or {}, conflict.field or {}
    rows = []
    for name in [*fields, *COMMON_LABELS]:
        if name in HIDDEN or (name not in web and name not in field):
            continue
        if name == "geometry":  # said only when the two shapes differ (conflicts from before hold no web geometry)
            a, b = web.get("geometry"), field.get("geometry")
            if a and b and canonical_geometry(a) != canonical_geometry(b):
                rows.append(("位置/形状", "平台位置", "外业已移动或重绘"))
            continue
        a, b = web.get(name), field.get(name)
        if (
            conflict.web is not None
            and conflict.field is not None
            and _shown(fields.get(name), a) == _shown(fields.get(name), b)
        ):
            continue
        label = fields[name].label if name in fields else COMMON_LABELS[name]
        shown_web = _shown(fields.get(name), a) if conflict.web is not None else "（已删除）"
        shown_field = _shown(fields.get(name), b) if conflict.field is not None else "（已删除）"
        rows.append((label, shown_web, shown_field))
    return rows
