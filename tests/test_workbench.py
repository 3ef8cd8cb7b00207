"""待我处理: each role lands on what waits for it, in its scope."""

from datetime import timedelta

import pytest
from django.test import Client

from gis_app.hazards import services as hz
from gis_app.lib import clock

pytestmark = pytest.mark.django_db


def _page(client, user) -> str:
    client.force_login(user)
    return client.get("/work/").content.decode()


def test_each_role_lands_on_its_own_work(world, photo):
    users, a, b = world["users"], world["home_a"], world["home_b"]
    bureau, home_user = users["bureau"], users["care_home"]
    to_fix = hz.report_hazard(care_home=a, description="A院疏散通道堆放杂物", by=bureau)
    submitted = hz.report_hazard(care_home=a, description="A院安全出口上锁", by=bureau)
    hz.assign(submitted, by=home_user, responsible_person="张三")
    hz.start_rectification(submitted, by=home_user)
    hz.submit_for_verification(submitted, by=home_user, note="已开锁", after_photos=[photo()])
    long_ago = clock.today() - timedelta(days=40)
    overdue_b = hz.report_hazard(
        care_home=b, description="B院电动车楼道充电", by=bureau, found_on=long_ago, due_on=long_ago + timedelta(days=30)
    )

    # the login page sends everyone here
    client = Client()
    response = client.post("/accounts/login/", {"username": "bureau", "password": "demo12345"})
    assert response.status_code == 302 and response["Location"] == "/work/"

    home_page = _page(Client(), home_user)
    assert "今天的自查" in home_page and "开始自查" in home_page  # nothing done yet today
    assert f"/carehomes/{a.pk}/inspections/new/?kind=self_check&amp;frequency=daily" in home_page  # each due list
    assert to_fix.description in home_page and submitted.description in home_page  # to fix / waiting
    assert overdue_b.description not in home_page  # another home's
    bureau_page = _page(Client(), bureau)
    verify = bureau_page[bureau_page.index('id="work-verify"') : bureau_page.index('id="work-overdue"')]
    assert submitted.description in verify and to_fix.description not in verify
    assert overdue_b.description in bureau_page[bureau_page.index('id="work-overdue"') :]
    third = _page(Client(), users["third_party"])  # serves home A only
    assert submitted.description in third and overdue_b.description not in third
    street = _page(Client(), users["subdistrict"])  # 塘沽: home A
    assert "work-verify" not in street and overdue_b.description not in street and world["tanggu"].name in street
    assert "尚未分配角色" in _page(Client(), users["no_role"])
