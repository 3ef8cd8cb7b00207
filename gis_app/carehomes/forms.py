from django import forms

from gis_app.lib.coords import SYSTEMS
from gis_app.lib.widgets import QuickSelect

from .models import CareHomeStatus, CoordinateSystem


class CareHomeImportForm(forms.Form):
    file = forms.FileField(label="文件（.xlsx 或 .csv）")
    crs = forms.ChoiceField(
        label="坐标系",
        choices=CoordinateSystem.choices,
        initial="wgs84",
        help_text="文件中经纬度所用的坐标系；文件中的“坐标系”列优先",
    )
    sheet = forms.CharField(
        label="工作表",
        required=False,
        max_length=100,
        help_text="Excel 文件有多个名单时填写要导入的工作表名称；只有一个名单时自动识别",
    )
    encoding = forms.ChoiceField(
        label="CSV 编码",
        required=False,
        initial="",
        choices=[("", "自动识别（UTF-8 或 GBK）"), ("utf-8", "UTF-8"), ("gb18030", "GBK / GB18030"), ("big5", "Big5")],
    )
    skip_bad = forms.BooleanField(label="跳过问题行，导入其余行", required=False)
    dry_run = forms.BooleanField(label="仅校验，不写入", required=False)

    def clean_file(self):
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith((".xlsx", ".csv")):
            raise forms.ValidationError("请上传 .xlsx 或 .csv 文件")
        if f.size > 10 * 1024 * 1024:
            raise forms.ValidationError("文件超过 10 MB")
        return f

    def clean_crs(self):
        value = self.cleaned_data["crs"]
        assert value in SYSTEMS
        return value


class CareHomeFilterForm(forms.Form):
    q = forms.CharField(
        label="搜索", required=False, widget=forms.TextInput(attrs={"placeholder": "名称、地址或信用代码"})
    )
    subdistrict = forms.ChoiceField(label="街镇", required=False, widget=QuickSelect)
    status = forms.ChoiceField(label="状态", required=False, choices=[("", "全部状态"), *CareHomeStatus.choices])

    def __init__(self, *args, subdistricts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdistrict"].choices = [("", "全部街镇")] + [(s.code, s.name) for s in subdistricts]

    def filter(self, homes):
        if not self.is_valid():
            return homes
        data = self.cleaned_data
        if data["q"]:
            from django.db.models import Q

            q = data["q"].strip()
            homes = homes.filter(Q(name__icontains=q) | Q(address__icontains=q) | Q(credit_code__icontains=q))
        if data["subdistrict"]:
            homes = homes.filter(subdistrict__code=data["subdistrict"])
        if data["status"]:
            homes = homes.filter(status=data["status"])
        return homes
