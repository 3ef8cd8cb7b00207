"""THE layer catalogue: the single source for every site-plan layer.

Models (layers/models.py builds them from this), validation, the REST and OGC APIs, vector tiles, downloads, the map's
layer control and legend, and (later) the QField forms all read these declarations. Adding a layer or a value means
editing this file and running `manage.py makemigrations layers`; nothing else.
"""

from dataclasses import dataclass, field

from gis_app.carehomes.models import Role


@dataclass(frozen=True)
class ValueList:
    """A closed list of values: stable English codes stored, Chinese labels shown."""

    key: str
    values: tuple[tuple[str, str], ...]

    @property
    def codes(self) -> list[str]:
        return [c for c, _ in self.values]

    def label(self, code: str) -> str:
        return dict(self.values).get(code, code)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # text | choice | bool | int | decimal | date | computed
    required: bool = False
    values: ValueList | None = None
    min: float | None = None
    max: float | None = None
    unit: str = ""
    help: str = ""


@dataclass(frozen=True)
class Style:
    colour: str
    fill: str = ""
    width: float = 2.0
    radius: float = 6.0
    dash: str = ""
    symbol: str = "circle"  # for QGIS/QField renderers: circle, square, triangle, star, cross


@dataclass(frozen=True)
class Layer:
    key: str  # URL and tile name, QField layer id stem
    title: str
    model: str  # "app_label.ModelName"
    geometry: tuple[str, ...]  # allowed OGC geometry types
    geometry_field: str
    fields: tuple[Field, ...]
    style: Style
    edit_roles: frozenset[str] = field(default_factory=frozenset)
    status_field: str | None = None
    problem_values: frozenset[str] = field(default_factory=frozenset)  # drawn in red: locked exits, blocked lanes
    problem_flags: tuple[str, ...] = ()  # yes/no fields whose 否 is a problem, drawn in red too (不符合要求)
    owned_here: bool = True  # False: the model lives in another app (e.g. hazards)

    @property
    def app_label(self) -> str:
        return self.model.split(".")[0]

    @property
    def model_name(self) -> str:
        return self.model.split(".")[1]

    def get_model(self):
        from django.apps import apps

        return apps.get_model(self.model)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def problem_codes(self) -> list[str]:
        """The status values that are problems, in the value list's order."""
        status = self.field(self.status_field) if self.status_field else None
        codes = status.values.codes if status is not None and status.values is not None else []
        return [c for c in codes if c in self.problem_values] or sorted(self.problem_values)

    def problem_expression(self) -> str | None:
        """A feature drawn in the problem style, as a QGIS expression (None: the layer has no problem style)."""
        codes = self.problem_codes()
        parts = []
        if self.status_field and codes:
            quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in codes)
            parts.append(f'"{self.status_field}" IN ({quoted})')
        parts += [f'"{name}" = false' for name in self.problem_flags]
        return " OR ".join(parts) or None

    def problem_labels(self) -> list[str]:
        """The legend's words for a problem: the status labels, and 不<label> for each problem flag."""
        status = self.field(self.status_field) if self.status_field else None
        labels = [status.values.label(c) if status and status.values else c for c in self.problem_codes()]
        return labels + [f"不{self.field(name).label}" for name in self.problem_flags]

    @property
    def editable_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind != "computed")


FIELD_EDITORS = frozenset({Role.BUREAU, Role.CARE_HOME, Role.THIRD_PARTY})

LANE_STATUS = ValueList(
    "lane_status", (("clear", "畅通"), ("narrowed", "宽度不足"), ("blocked", "堵塞"), ("parked", "被车辆占用"))
)
EXIT_KIND = ValueList(
    "exit_kind", (("door", "安全出口门"), ("stairway", "疏散楼梯"), ("outdoor_stair", "室外疏散楼梯"))
)
EXIT_STATUS = ValueList("exit_status", (("open", "正常开启"), ("locked", "上锁"), ("blocked", "堵塞")))
ROUTE_STATUS = ValueList("route_status", (("clear", "畅通"), ("obstructed", "有障碍物")))
STATION_LEVEL = ValueList("station_level", (("1", "一级"), ("2", "二级"), ("3", "三级")))
EQUIPMENT_KIND = ValueList(
    "equipment_kind",
    (("extinguisher", "灭火器"), ("hydrant", "室内消火栓"), ("outdoor_hydrant", "室外消火栓"),
     ("sprinkler_riser", "喷淋立管/湿式报警阀"), ("simple_sprinkler", "简易喷淋"), ("alarm_panel", "火灾报警控制器"),
     ("smoke_alarm", "独立式感烟报警器"), ("emergency_light", "应急照明"), ("exit_sign", "疏散指示标志"),
     ("electrical_monitor", "电气火灾监控探测器"), ("fire_blanket", "灭火毯")),
)  # fmt: skip
EQUIPMENT_STATUS = ValueList(
    "equipment_status", (("ok", "完好"), ("faulty", "故障"), ("expired", "过期"), ("missing", "缺失"))
)

CATALOGUE: tuple[Layer, ...] = (
    Layer(
        key="building",
        title="建筑轮廓",
        model="layers.Building",
        geometry=("Polygon",),
        geometry_field="area",
        fields=(
            Field("name", "名称", "text", required=True, help="如：1号楼（老人居住）"),
            Field("floors", "层数", "int", min=1, max=60),
            Field("elderly_floors", "老人居住楼层", "text", help="如：1-3"),
        ),
        style=Style(colour="#546e7a", fill="#b0bec5", width=1.5, symbol="square"),
        edit_roles=FIELD_EDITORS,
    ),
    Layer(
        key="fire_lane",
        title="消防车通道",
        model="layers.FireLane",
        geometry=("LineString", "Polygon"),
        geometry_field="geometry",
        fields=(
            Field("width_m", "宽度", "decimal", required=True, min=0, max=50, unit="米", help="规范要求不小于4米"),
            Field("status", "状态", "choice", required=True, values=LANE_STATUS),
            Field("turnaround", "设有回车场", "bool"),
        ),
        style=Style(colour="#d32f2f", fill="#ef9a9a", width=4, dash="8 4", symbol="square"),
        edit_roles=FIELD_EDITORS,
        status_field="status",
        problem_values=frozenset({"narrowed", "blocked", "parked"}),
    ),
    Layer(
        key="safety_exit",
        title="安全出口",
        model="layers.SafetyExit",
        geometry=("Point",),
        geometry_field="location",
        fields=(
            Field("kind", "类型", "choice", required=True, values=EXIT_KIND),
            Field("clear_width_m", "净宽", "decimal", min=0, max=20, unit="米"),
            Field("status", "状态", "choice", required=True, values=EXIT_STATUS),
            Field("exit_sign_ok", "疏散指示标志完好", "bool"),
            Field("emergency_light_ok", "应急照明完好", "bool"),
        ),
        style=Style(colour="#2e7d32", fill="#66bb6a", radius=7, symbol="triangle"),
        edit_roles=FIELD_EDITORS,
        status_field="status",
        problem_values=frozenset({"locked", "blocked"}),
    ),
    Layer(
        key="evacuation_route",
        title="疏散通道",
        model="layers.EvacuationRoute",
        geometry=("LineString",),
        geometry_field="centerline",
        fields=(
            Field("status", "状态", "choice", required=True, values=ROUTE_STATUS),
            Field("length_m", "长度", "computed", unit="米", help="由几何自动计算"),
        ),
        style=Style(colour="#00897b", width=3, dash="2 6"),
        edit_roles=FIELD_EDITORS,
        status_field="status",
        problem_values=frozenset({"obstructed"}),
    ),
    Layer(
        key="ebike_area",
        title="电动自行车停放充电区",
        model="layers.EbikeChargingArea",
        geometry=("Polygon",),
        geometry_field="area",
        fields=(
            Field("capacity", "停放车位", "int", min=0, max=2000),
            Field("charging_points", "充电端口数", "int", min=0, max=2000),
            Field("timed_cutoff", "定时断电", "bool"),
            Field(
                "distance_to_building_m",
                "距最近建筑",
                "decimal",
                min=0,
                max=1000,
                unit="米",
                help="已绘制建筑轮廓时自动计算，否则手工填写",
            ),
            Field("roofed", "有顶棚", "bool"),
            Field("extinguisher_present", "配置灭火器", "bool"),
            Field("compliant", "符合要求", "bool"),
        ),
        style=Style(colour="#f57c00", fill="#ffcc80", width=2, symbol="square"),
        edit_roles=FIELD_EDITORS,
        problem_flags=("compliant",),
    ),  # fmt: skip
    Layer(
        key="micro_fire_station",
        title="微型消防站",
        model="layers.MicroFireStation",
        geometry=("Point",),
        geometry_field="location",
        fields=(
            Field("level", "级别", "choice", required=True, values=STATION_LEVEL),
            Field("staff_count", "队员人数", "int", min=0, max=100),
            Field("equipment_complete", "器材装备齐全", "bool"),
        ),
        style=Style(colour="#c62828", fill="#ff5252", radius=8, symbol="star"),
        edit_roles=FIELD_EDITORS,
    ),
    Layer(
        key="fire_equipment",
        title="消防设施",
        model="layers.FireEquipment",
        geometry=("Point",),
        geometry_field="location",
        fields=(
            Field("kind", "类型", "choice", required=True, values=EQUIPMENT_KIND),
            Field("last_checked_on", "最近检查日期", "date"),
            Field("status", "状态", "choice", required=True, values=EQUIPMENT_STATUS),
        ),
        style=Style(colour="#6a1b9a", fill="#ba68c8", radius=5),
        edit_roles=FIELD_EDITORS,
        status_field="status",
        problem_values=frozenset({"faulty", "expired", "missing"}),
    ),
    Layer(
        key="fire_control_room",
        title="消防控制室",
        model="layers.FireControlRoom",
        geometry=("Point",),
        geometry_field="location",
        fields=(
            Field("staffed_24h", "24小时值班", "bool"),
            Field("certified_operators", "持证值班人数", "int", min=0, max=50),
        ),
        style=Style(colour="#283593", fill="#5c6bc0", radius=7, symbol="square"),
        edit_roles=FIELD_EDITORS,
    ),
    Layer(
        key="hazard",
        title="隐患",
        model="hazards.Hazard",
        geometry=("Point",),
        geometry_field="location",
        fields=(
            Field("description", "隐患描述", "text", required=True),
            Field(
                "severity",
                "等级",
                "choice",
                required=True,
                values=ValueList("severity", (("general", "一般隐患"), ("major", "重大隐患"))),
            ),
            Field("status", "状态", "computed"),
            Field("due_on", "整改期限", "date"),
        ),
        style=Style(colour="#b71c1c", fill="#ff1744", radius=6, symbol="cross"),
        edit_roles=frozenset(),  # hazards change only through the ledger's services
        status_field="severity",
        problem_values=frozenset({"major"}),
        owned_here=False,
    ),  # fmt: skip
)

BY_KEY = {layer.key: layer for layer in CATALOGUE}


def get_layer(key: str) -> Layer:
    return BY_KEY[key]


def own_layers() -> tuple[Layer, ...]:
    return tuple(layer for layer in CATALOGUE if layer.owned_here)
