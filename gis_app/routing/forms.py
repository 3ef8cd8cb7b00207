from datetime import timedelta

from django import forms
from django.contrib.gis.geos import Point

from gis_app.lib import clock
from gis_app.lib.widgets import QuickCheckboxSelectMultiple, QuickSelect

from .models import Place
from .services import RoutingError, TeamInput, parse_hhmm

MODES = [("risk", "风险分最高的机构"), ("overdue_major", "有逾期重大隐患的机构"), ("subdistrict", "某街镇的机构"),
         ("hand", "人工选择")]  # fmt: skip
TEAMS = 3


class PlanForm(forms.Form):
    title = forms.CharField(label="名称", max_length=100)
    date = forms.DateField(label="检查日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    mode = forms.ChoiceField(label="选取方式", choices=MODES, initial="risk")
    limit = forms.IntegerField(label="最多选取", min_value=1, max_value=150, initial=20)
    subdistrict = forms.ChoiceField(label="街镇", required=False, widget=QuickSelect)
    homes = forms.MultipleChoiceField(
        label="人工选择机构", required=False, widget=QuickCheckboxSelectMultiple(attrs={"class": "pick-list"})
    )
    night = forms.BooleanField(label="夜查（22:00–次日05:00 到达检查）", required=False)
    speed_kmh = forms.FloatField(label="平均车速（公里/小时）", initial=30, min_value=5, max_value=120)
    circuity = forms.FloatField(label="绕行系数（无路网时）", initial=1.35, min_value=1, max_value=3)
    solver_seconds = forms.FloatField(label="求解时长（秒）", initial=3, min_value=0.5, max_value=60)

    def __init__(self, *args, subdistricts, homes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subdistrict"].choices = [("", "—")] + [(s.pk, s.name) for s in subdistricts]
        self.fields["homes"].choices = [(h.pk, f"{h.name}（{h.subdistrict.name if h.subdistrict else '—'}）")
                                        for h in homes]  # fmt: skip
        day = next_working_day(clock.today())  # joint checks are planned ahead
        self.fields["date"].initial = day
        self.fields["title"].initial = f"联合检查 {day:%Y-%m-%d}"
        places = [(p.pk, p.name) for p in Place.objects.all()] + [("custom", "其他地点（填写经纬度）")]
        for i in range(1, TEAMS + 1):
            required = i == 1
            p = f"team{i}_"
            self.fields[p + "name"] = forms.CharField(label="检查组", max_length=50, required=required,
                                                      initial=f"第{i}组" if i <= 2 else "")  # fmt: skip
            self.fields[p + "members"] = forms.CharField(label="成员", max_length=200, required=False)
            self.fields[p + "start"] = forms.ChoiceField(label="出发地点", choices=places, required=False)
            self.fields[p + "start_lonlat"] = forms.CharField(
                label="出发经纬度", required=False, widget=forms.TextInput(attrs={"placeholder": "117.71,39.00"})
            )
            self.fields[p + "end"] = forms.ChoiceField(
                label="返回地点", choices=[("", "同出发地点")] + places, required=False
            )
            self.fields[p + "end_lonlat"] = forms.CharField(
                label="返回经纬度", required=False, widget=forms.TextInput(attrs={"placeholder": "117.71,39.00"})
            )
            self.fields[p + "shift_start"] = forms.CharField(label="出发", initial="08:30", required=False)
            self.fields[p + "shift_end"] = forms.CharField(label="收班", initial="17:30", required=False)
            self.fields[p + "break_from"] = forms.CharField(label="休息最早", initial="11:30", required=False)
            self.fields[p + "break_to"] = forms.CharField(label="休息最晚开始", initial="13:00", required=False)
            self.fields[p + "break_minutes"] = forms.IntegerField(label="休息（分钟）", initial=60, min_value=0,
                                                                  max_value=180, required=False)  # fmt: skip

    def team_rows(self):
        return [[self[f"team{i}_{f}"] for f in ("name", "members", "start", "start_lonlat", "end", "end_lonlat",
                                                "shift_start", "shift_end", "break_from", "break_to", "break_minutes")]
                for i in range(1, TEAMS + 1)]  # fmt: skip

    def _place(self, prefix: str, which: str) -> tuple[str, Point]:
        choice = self.cleaned_data.get(prefix + which)
        if choice and choice != "custom":
            place = Place.objects.filter(pk=choice).first()
            if place is None:
                raise RoutingError("地点不存在")
            return place.name, place.location
        text = (self.cleaned_data.get(prefix + which + "_lonlat") or "").replace("，", ",")
        try:
            lon, lat = (float(x) for x in text.split(","))
        except ValueError:
            raise RoutingError(
                f"请填写{'出发' if which == 'start' else '返回'}地点的经度,纬度（如 117.71,39.00）"
            ) from None
        if not (116.5 <= lon <= 118.5 and 38.5 <= lat <= 39.7):
            raise RoutingError("经纬度不在滨海新区附近（经度 116.5–118.5，纬度 38.5–39.7）")
        return f"{lon:.5f},{lat:.5f}", Point(lon, lat, srid=4326)

    def teams(self) -> list[TeamInput]:
        out = []
        for i in range(1, TEAMS + 1):
            p = f"team{i}_"
            name = (self.cleaned_data.get(p + "name") or "").strip()
            if not name:
                continue
            start_name, start = self._place(p, "start")
            if self.cleaned_data.get(p + "end") or self.cleaned_data.get(p + "end_lonlat"):
                end_name, end = self._place(p, "end")
            else:  # no return place given: the team returns where it set out
                end_name, end = start_name, start
            shift_start = parse_hhmm(self.cleaned_data.get(p + "shift_start") or "")
            shift_end = parse_hhmm(self.cleaned_data.get(p + "shift_end") or "", after=shift_start)
            minutes = self.cleaned_data.get(p + "break_minutes") or 0
            earliest = latest = None
            if minutes:
                earliest = parse_hhmm(self.cleaned_data.get(p + "break_from") or "")
                earliest += 1440 if earliest < shift_start else 0
                latest = parse_hhmm(self.cleaned_data.get(p + "break_to") or "", after=earliest)
            out.append(TeamInput(name, start_name, start, end_name, end, shift_start, shift_end, earliest, latest,
                                 minutes, self.cleaned_data.get(p + "members") or ""))  # fmt: skip
        return out


class StopForm(forms.Form):
    service_minutes = forms.IntegerField(label="检查时长（分钟）", min_value=1, max_value=480)
    priority = forms.IntegerField(label="优先级", min_value=1)
    window_from = forms.CharField(label="时间窗开始", required=False)
    window_to = forms.CharField(label="时间窗结束", required=False)
    locked_team = forms.ChoiceField(label="锁定检查组", required=False)
    locked_position = forms.IntegerField(label="锁定顺序", min_value=1, required=False)

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.fields["locked_team"].choices = [("", "不锁定")] + [(t.pk, t.name) for t in plan.teams.all()]

    def window(self):
        a, b = self.cleaned_data.get("window_from"), self.cleaned_data.get("window_to")
        if not a and not b:
            return None
        if not (a and b):
            raise RoutingError("时间窗须同时填写开始和结束")
        start = parse_hhmm(a)
        end = parse_hhmm(b, after=start)
        first_shift = min((t.shift_start for t in self.plan.teams.all()), default=0)
        if end < first_shift:  # "01:00–04:00" on a night plan means after midnight
            start, end = start + 1440, end + 1440
        return start, end


def next_working_day(day):
    """The next day from Monday to Friday after `day`."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
