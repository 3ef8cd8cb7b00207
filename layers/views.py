from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .catalogue import CATALOGUE


@login_required
def legend(request):
    """The catalogue for people: every layer with its fields and value lists (what the map, QField and exports use)."""
    return render(request, "layers/legend.html", {"layers": CATALOGUE})
