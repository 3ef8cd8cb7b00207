"""The one-pass choice widgets write what Django's own widgets write (compared as parsed HTML), escaping included."""

import pytest
from django import forms
from django.test.html import parse_html

from gis_app.lib.widgets import QuickCheckboxSelectMultiple, QuickSelect

CHOICES = [("", "全部街镇"), ("1201<", "新港&街道"), ('x"y', "<img src=x onerror=alert(1)>"), (7, "七")]


class Reference(forms.Form):
    one = forms.ChoiceField(choices=CHOICES, required=False)
    req = forms.ChoiceField(choices=CHOICES[1:])
    many = forms.MultipleChoiceField(
        choices=CHOICES[1:], required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "pick-list"})
    )


class Quick(forms.Form):
    one = forms.ChoiceField(choices=CHOICES, required=False, widget=QuickSelect)
    req = forms.ChoiceField(choices=CHOICES[1:], widget=QuickSelect)
    many = forms.MultipleChoiceField(
        choices=CHOICES[1:], required=False, widget=QuickCheckboxSelectMultiple(attrs={"class": "pick-list"})
    )


@pytest.mark.parametrize(
    "data", [None, {"one": "1201<", "req": "7", "many": ['x"y', "7"]}, {"one": "", "req": 'x"y', "many": []}]
)
@pytest.mark.parametrize("field", ["one", "req", "many"])
def test_quick_widgets_render_what_django_renders(data, field):
    ours, django = str(Quick(data)[field]), str(Reference(data)[field])
    assert parse_html(ours) == parse_html(django), (ours, django)
    assert "<img" not in ours


def test_grouped_choices_fall_back_to_django():
    grouped = [("城区", [("1", "新港街道")]), ("乡镇", [("2", "杨家泊镇")])]
    quick = forms.ChoiceField(choices=grouped, widget=QuickSelect).widget
    assert "<optgroup" in quick.render("s", "2") and 'value="2" selected' in quick.render("s", "2")


def test_subdistrict_options_escape_like_django(tanggu):
    from django.utils.html import format_html

    from gis_app.carehomes.models import Subdistrict
    from gis_app.carehomes.templatetags.subdistricts import subdistrict_options

    tanggu.name = '<b>"塘沽"&\'</b>'
    tanggu.save()
    html = subdistrict_options(Subdistrict.objects.filter(pk=tanggu.pk), tanggu.code)
    expected = format_html('<option value="{}" selected>{}</option>', tanggu.code, tanggu.name)
    assert str(html) == str(expected) and "<b>" not in html
