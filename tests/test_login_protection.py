"""Password guessing is not free: after a few wrong passwords the login is refused for a while, on the login page and
on the admin, in Chinese; a good password resets the count; the password policy refuses weak passwords."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

pytestmark = pytest.mark.django_db


def _try(client: Client, url: str, username: str, password: str):
    client.get(url)
    return client.post(
        url, {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_repeated_wrong_passwords_lock_the_account_and_the_right_one_is_refused_too(url, make_user, settings):
    user = make_user("guess_me", None)
    user.is_staff = True
    user.save()
    client = Client(enforce_csrf_checks=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _try(client, url, "guess_me", "wrong-password").status_code == 200  # the form again, with an error
    locked = _try(client, url, "guess_me", "wrong-password")
    assert locked.status_code == 429 and "登录已暂停" in locked.content.decode()
    right = _try(client, url, "guess_me", "pw-test-12345")
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # Another browser elsewhere is refused for that user name as well (per user), while other users log in.
    other = Client(enforce_csrf_checks=True, REMOTE_ADDR="10.9.9.9")
    assert _try(other, url, "guess_me", "pw-test-12345").status_code == 429
    make_user("innocent", None).__class__.objects.filter(username="innocent").update(is_staff=True)
    assert _try(other, url, "innocent", "pw-test-12345").status_code == 302


def test_a_success_before_the_limit_resets_the_count(make_user, settings):
    make_user("forgetful", None)
    client = Client(enforce_csrf_checks=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _try(client, "/accounts/login/", "forgetful", "nope")
    assert _try(client, "/accounts/login/", "forgetful", "pw-test-12345").status_code == 302
    client.post("/accounts/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _try(client, "/accounts/login/", "forgetful", "nope").status_code == 200


@pytest.mark.parametrize(
    ("password", "refused"),
    [
        ("demo12345", True),
        ("abcdefghij", True),
        ("Zhang2026", True),
        ("Zhangsan12", True),
        ("1234567890", True),
        ("Binhai#Xiao-7", False),
        ("anquan2026!x", False),
    ],
)
def test_the_password_policy_asks_for_length_and_three_character_classes(password, refused, make_user):
    user = make_user("zhangsan", None)
    user.first_name = "张三"
    if refused:
        with pytest.raises(ValidationError):
            validate_password(password, user)
    else:
        validate_password(password, user)
