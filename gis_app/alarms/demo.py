"""A demo IoT vendor (secret demo-secret) with one standalone smoke alarm per demo home. Idempotent."""

from gis_app.carehomes.models import CareHome

from .models import Device, DeviceKind, Vendor


def load_demo_alarms() -> int:
    vendor, _ = Vendor.objects.get_or_create(
        slug="demo-iot", defaults={"name": "演示物联网平台", "secret": "demo-secret"}
    )
    created = 0
    for home in CareHome.objects.filter(is_demo=True):
        _, was_created = Device.objects.get_or_create(
            vendor=vendor, vendor_device_id=f"SA-{home.credit_code[-6:]}",
            defaults={"care_home": home, "kind": DeviceKind.SMOKE_ALARM, "name": "1号楼走廊感烟报警器", "location": home.location},
        )  # fmt: skip
        created += was_created
    return created
