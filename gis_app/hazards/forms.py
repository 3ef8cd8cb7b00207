from django import forms

from gis_app.inspections.models import Criterion, KeyPlace
from gis_app.lib.widgets import QuickSelect

from .models import Category, Severity, Status


class HazardFilterForm(forms.Form):
    subdistrict = forms.ChoiceField(label="街镇", required=False, widget=QuickSelect)
    home = forms.IntegerField(label="养老机构", required=False, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        label="状态", required=False,
        choices=[("", "全部状态"), ("open", "未销号（全部在办）"), *Status.choices],
    )  # fmt: skip
    severity = forms.ChoiceField(label="等级", required=False, choices=[("", "全部等级"), *Severity.choices])
    overdue = forms.BooleanField(label="仅逾期", required=False)
    found_from = forms.DateField(
        label="发现日期从", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    found_to = forms.DateField(
        label="至", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, subdistricts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdistrict"].choices = [("", "全部街镇")] + [(s.code, s.name) for s in subdistricts]

    def filter(self, hazards):
        if not self.is_valid():
            return hazards
        d = self.cleaned_data
        if d["subdistrict"]:
            hazards = hazards.filter(care_home__subdistrict__code=d["subdistrict"])
        if d["home"]:
            hazards = hazards.filter(care_home_id=d["home"])
        if d["status"] == "open":
            hazards = hazards.open()
        elif d["status"]:
            hazards = hazards.filter(status=d["status"])
        if d["severity"]:
            hazards = hazards.filter(severity=d["severity"])
        if d["overdue"]:
            hazards = hazards.overdue()
        if d["found_from"]:
            hazards = hazards.filter(found_on__gte=d["found_from"])
        if d["found_to"]:
            hazards = hazards.filter(found_on__lte=d["found_to"])
        return hazards

    def narrows(self) -> bool:
        """Whether filter() leaves out any hazard (an invalid form filters nothing)."""
        return self.is_valid() and any(self.cleaned_data.values())

    def export_scope(self) -> str:
        d = self.cleaned_data if self.is_valid() else {}
        if d.get("home"):
            return f"carehome:{d['home']}"
        if d.get("subdistrict"):
            return f"subdistrict:{d['subdistrict']}"
        return "district"


class HazardReportForm(forms.Form):
    description = forms.CharField(label="隐患描述", widget=forms.Textarea(attrs={"rows": 3}))
    category = forms.ChoiceField(label="类别", choices=Category.choices)
    key_place = forms.ModelChoiceField(label="重点部位", queryset=KeyPlace.objects.all(), required=False)
    severity = forms.ChoiceField(label="等级", choices=Severity.choices)
    criterion = forms.ModelChoiceField(
        label="重大隐患判定条款", queryset=Criterion.objects.select_related("criterion_set"), required=False
    )
    found_on = forms.DateField(label="发现日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    due_on = forms.DateField(
        label="整改期限",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="留空按等级取默认期限",
    )
    responsible_person = forms.CharField(label="整改责任人", required=False, help_text="留空取本机构消防安全管理人")
    lon = forms.FloatField(label="经度", required=False)
    lat = forms.FloatField(label="纬度", required=False)
    photo = forms.ImageField(label="整改前照片", required=False)

    def clean(self):
        data = super().clean()
        if (data.get("lon") is None) != (data.get("lat") is None):
            raise forms.ValidationError("位置需要同时填写经度和纬度")
        if data.get("severity") == Severity.MAJOR and not data.get("criterion"):
            self.add_error("criterion", "重大隐患必须选择判定条款")
        return data


class ActionForm(forms.Form):
    """One form for every lifecycle action; each action uses the fields it needs."""

    comment = forms.CharField(label="说明", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    responsible_person = forms.CharField(label="整改责任人", required=False)
    responsible_phone = forms.CharField(label="电话", required=False)
    due_on = forms.DateField(
        label="整改期限", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    measures = forms.CharField(label="整改措施", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    safeguards = forms.CharField(label="临时防范措施", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    planned_on = forms.DateField(
        label="方案完成日期", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    photos = forms.ImageField(label="整改后照片", required=False)


class ListingForm(forms.Form):
    department = forms.CharField(label="督办部门", initial="滨海新区民政局")
    deadline = forms.DateField(label="督办期限", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
