"""Run by Debian's /usr/bin/python3 (PyQGIS 3.22), headless: what a GIS officer does in QGIS. An authentication
configuration of type Basic (user name + API token) is stored in a fresh QGIS auth database, then every collection of
the platform's OGC API is added as an OAPIF layer through it. Prints one JSON line: {collection: {valid, count, ...}}.

usage: qgis_oapif.py BASE_URL USERNAME TOKEN COLLECTION...
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="qgis-auth-")

from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsVectorLayer  # noqa: E402


def main(base: str, username: str, token: str, collections: list[str]) -> dict:
    app = QgsApplication([], False)
    app.initQgis()
    manager = QgsApplication.authManager()
    manager.setMasterPassword("test-master-password", True)
    config = QgsAuthMethodConfig("Basic")
    config.setName("滨海新区消防平台")
    config.setConfig("username", username)
    config.setConfig("password", token)
    if not manager.storeAuthenticationConfig(config):
        raise SystemExit("could not store the authentication configuration")
    out = {}
    for name in collections:
        # As the README tells a GIS officer: the URL without a trailing slash.
        uri = f"url='{base}/ogc' typename='{name}' authcfg={config.id()} pageSize=1000"
        layer = QgsVectorLayer(uri, name, "OAPIF")
        item = {"valid": layer.isValid()}
        if layer.isValid():
            features = list(layer.getFeatures())
            item["count"] = len(features)
            item["uuids"] = sorted(str(f["id"]) if "id" in f.fields().names() else "" for f in features)
            item["fields"] = layer.fields().names()
            first = features[0] if features else None
            item["first"] = (
                {"wkt": first.geometry().asWkt(6), "attrs": {k: str(first[k]) for k in layer.fields().names()}}
                if first
                else None
            )
        out[name] = item
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]), ensure_ascii=False), flush=True)
    # QGIS 3.22's exitQgis() can crash while its network threads wind down; the answer is out, so leave at once.
    os._exit(0)
