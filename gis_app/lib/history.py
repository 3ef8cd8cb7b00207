"""One way to put a model under the audit trail (django-pghistory): insert, update and delete events with the row's
values, recorded by PostgreSQL triggers, in a `<Model>History` table reachable as `obj.history`."""

import pghistory


def tracked(
    model=None, *, exclude: list[str] | None = None, fields: list[str] | None = None, app_label: str | None = None
):
    def apply(cls):
        return pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(),
            pghistory.DeleteEvent(),
            fields=fields,
            exclude=exclude,
            app_label=app_label,
            model_name=f"{cls.__name__}History",
            obj_field=pghistory.ObjForeignKey(related_name="history", related_query_name="history"),
        )(cls)

    return apply(model) if model is not None else apply
