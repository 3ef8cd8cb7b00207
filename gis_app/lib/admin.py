"""Admin pieces shared by the apps."""

from django import forms
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.utils import timezone


class OptimisticLockingAdmin:
    """A change form carries the row's `updated_at` as it was shown; saving it after someone else changed the row is
    refused with a message, never applied over the newer values. The admin validates inside its transaction, and the
    row is locked for the comparison, so two saves of one version cannot both pass."""

    version_field = "updated_at"

    def get_form(self, request, obj=None, **kwargs):
        # The admin builds its model form from the fields it renders, `version` among them; it is not the model's.
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"]:
            kwargs["fields"] = [f for f in kwargs["fields"] if f != "version"]
        base = super().get_form(request, obj, **kwargs)
        field = self.version_field

        class VersionedForm(base):
            version = forms.CharField(widget=forms.HiddenInput, required=False)

            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                if self.instance.pk:
                    self.fields["version"].initial = getattr(self.instance, field).isoformat()

            def clean(self):
                data = super().clean()
                sent = self.data.get("version")
                if self.instance.pk and sent:
                    model = type(self.instance)
                    current = model._base_manager.select_for_update(of=("self",)).filter(pk=self.instance.pk)
                    current = current.values_list(field, flat=True).first()
                    if current is not None and current.isoformat() != sent:
                        raise ValidationError(
                            f"这条记录已被他人修改（最新修改于 {timezone.localtime(current):%Y-%m-%d %H:%M:%S}），"
                            "您的修改未保存：请重新打开本页，在最新内容上修改。"
                        )
                return data

        return VersionedForm
