import pytest

from gis_app.carehomes.credit_code import check_character, credit_code_error

from .conftest import make_credit_code


def test_a_published_real_code_is_valid():
    # 91350100M000100Y43: the example code in GB 32100-2015 explanations.
    assert credit_code_error("91350100M000100Y43") is None


def test_generated_codes_are_valid():
    for serial in (0, 1, 12345, 999999999):
        assert credit_code_error(make_credit_code(serial)) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "应为18位"),
        ("91350100M000100Y44", "校验位错误"),
        ("91350100M0001O0Y43", "非法字符"),
        ("91AB0100M000100Y43", "行政区划代码"),
    ],
)
def test_bad_codes_say_why(code, reason):
    assert reason in credit_code_error(code)


def test_check_character_uses_the_31_character_alphabet():
    assert check_character("91350100M000100Y4") == "3"
