"""Choice widgets that render their options in one pass.

Django renders every <option> (and every checkbox) through its own template: for a filter over the 3,000 街镇 of a
country that cost ~0.4 s a page. These widgets write the same markup as Django's (same names, ids, attributes,
escaping) with format_html_join, in a few milliseconds. Grouped choices fall back to Django's rendering.
"""

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


def _flat(choices) -> bool:
    return not any(isinstance(label, (list, tuple)) for _value, label in choices)


class QuickSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        if not _flat(self.choices):
            return super().render(name, value, attrs, renderer)
        selected = set(self.format_value(value))
        attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        if self.allow_multiple_selected:
            attrs["multiple"] = True
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((v, " selected" if str(v) in selected else "", label) for v, label in self.choices),
        )
        return format_html("<select{}>{}</select>", flatatt(attrs), options)


class QuickSelectMultiple(QuickSelect, forms.SelectMultiple):
    allow_multiple_selected = True


class QuickCheckboxSelectMultiple(forms.CheckboxSelectMultiple):
    """Django's markup: <div id=…><div><label for=…_i><input type=checkbox …> label</label></div>…</div>."""

    def render(self, name, value, attrs=None, renderer=None):
        if not _flat(self.choices):
            return super().render(name, value, attrs, renderer)
        selected = set(self.format_value(value))
        attrs = self.build_attrs(self.attrs, attrs or {})
        base_id = attrs.get("id", "")
        box = {k: v for k, v in attrs.items() if k != "id"}
        box_attrs = flatatt(box)
        rows = format_html_join(
            "",
            '<div><label{}><input type="checkbox" name="{}" value="{}"{}{}{}> {}</label></div>',
            (
                (
                    format_html(' for="{}_{}"', base_id, i) if base_id else "",
                    name,
                    v,
                    box_attrs,
                    format_html(' id="{}_{}"', base_id, i) if base_id else "",
                    " checked" if str(v) in selected else "",
                    label,
                )
                for i, (v, label) in enumerate(self.choices)
            ),
        )
        outer = flatatt({k: v for k, v in (("id", base_id), ("class", attrs.get("class"))) if v})
        return format_html("<div{}>{}</div>", outer, rows)
