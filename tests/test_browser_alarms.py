import json
import time
import urllib.request

import pytest
from django.utils import timezone

from gis_app.alarms.services import signature
from gis_app.carehomes.demo import load_demo

from .browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_event_posted_to_the_webhook_appears_on_the_alarm_page(page, live_server, transactional_db):
    load_demo(ledger=False, layers=False)
    from gis_app.alarms.models import Device

    device = Device.objects.filter(vendor__slug="demo-iot").select_related("care_home").first()
    login(page, live_server, "bureau")
    page.goto(f"{live_server.url}/alarms/")
    assert page.locator("#alarms tbody tr").count() == 0
    body = json.dumps({"event_id": "live-1", "device_id": device.vendor_device_id, "kind": "fire",
                       "occurred_at": timezone.now().isoformat()}).encode()  # fmt: skip
    ts = str(int(time.time()))
    req = urllib.request.Request(f"{live_server.url}/api/alarms/webhook/demo-iot/", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Alarm-Timestamp": ts, "X-Alarm-Signature": signature("demo-secret", ts, body)})  # fmt: skip
    assert json.loads(urllib.request.urlopen(req).read()) == {"accepted": 1, "duplicates": 0}
    page.wait_for_selector("#alarms tbody tr.kind-fire", timeout=10_000)
    assert device.care_home.name in page.inner_text("#alarms")
    assert page.locator("path.alarm-marker.kind-fire").count() == 1
    assert page.external_requests == [] and page.errors == []
