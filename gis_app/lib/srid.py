"""The one SRID constant: everything is stored in WGS84 (CGCS2000 is treated as identical, see DOMAIN.md)."""

WGS84 = 4326
# A metric CRS for Binhai (UTM zone 50N) for lengths, areas and distances computed in PostGIS.
UTM50N = 32650
