"""Runs under Debian's /usr/bin/python3 with python3-qgis (headless); never imports Django.

    qgis_desktop.py build SPEC.json OUT.qgs      writes the bureau's desktop project (layers/desktop.py writes the spec)
    qgis_desktop.py open PROJECT.qgs USER TOKEN AUTHCFG [Z X Y]
                                                  stores a Basic authentication configuration with that id, opens the
                                                  project as a GIS officer would and prints what QGIS sees: every
                                                  layer's validity and feature count, and (with Z X Y) the bytes each
                                                  vector-tile layer fetched for that tile, base64

The project's layers are the platform's OGC API collections (provider OAPIF) and vector tiles, each with
`authcfg=<id>`: the project holds no secret; the officer stores the user name and a GIS token once in QGIS under that
id. Styles come from the layer catalogue (colours, problem values in red, Chinese names and field aliases, labels).
QGIS 3.22 cannot add an OAPIF layer it cannot reach, so each is built as an empty memory layer with the same fields and
geometry, styled, and its data source is rewritten to the OGC API in the saved XML.
"""

import json
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if len(sys.argv) > 1 and sys.argv[1] == "open":
    os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="qgis-auth-")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsLayerTreeLayer,
    QgsLineSymbol,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsProject,
    QgsRectangle,
    QgsReferencedRectangle,
    QgsRuleBasedRenderer,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
    QgsVectorTileBasicRenderer,
    QgsVectorTileBasicRendererStyle,
    QgsVectorTileLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor  # noqa: E402

PROBLEM_STROKE, PROBLEM_FILL = "#d50000", "#ff8a80"  # as the web map draws a problem feature
MEMORY_TYPES = {
    "text": "string",
    "choice": "string",
    "bool": "boolean",
    "int": "integer",
    "decimal": "double",
    "date": "date",
    "computed": "double",
}
GEOMETRY_TYPES = {
    "Point": QgsWkbTypes.PointGeometry,
    "LineString": QgsWkbTypes.LineGeometry,
    "Polygon": QgsWkbTypes.PolygonGeometry,
    "MultiPolygon": QgsWkbTypes.PolygonGeometry,
}
MARKERS = {"circle": "circle", "square": "square", "triangle": "triangle", "star": "star", "cross": "cross2"}


def _symbol(geometry: str, style: dict, problem: bool = False):
    stroke = PROBLEM_STROKE if problem else style["colour"]
    fill = QColor(PROBLEM_FILL if problem else (style.get("fill") or style["colour"]))
    if not fill.isValid():  # "none": an outline only (街镇 boundaries)
        fill = QColor(style["colour"])
    if geometry == "Point":
        fill_name = fill.name()
        return QgsMarkerSymbol.createSimple(
            {
                "name": MARKERS.get(style.get("symbol") or "circle", "circle"),
                "color": fill_name,
                "outline_color": stroke,
                "outline_width": "0.4",
                "size": str(round(style.get("radius", 6) * 0.6, 2)),
            }
        )
    width = str(round(style.get("width", 2) * 0.3, 2))
    if geometry == "LineString":
        props = {"line_color": stroke, "line_width": width, "capstyle": "round"}
        if style.get("dash"):
            props.update(
                {"use_custom_dash": "1", "customdash": style["dash"].replace(" ", ";"), "customdash_unit": "Pixel"}
            )
        return QgsLineSymbol.createSimple(props)
    fill.setAlpha(0 if style.get("fill") == "none" else 115)  # the web map's fillOpacity 0.45; outlines only
    return QgsFillSymbol.createSimple(
        {
            "color": f"{fill.red()},{fill.green()},{fill.blue()},{fill.alpha()}",
            "outline_color": stroke,
            "outline_width": width,
        }
    )


def _renderer(spec: dict):
    """Rule-based: problem values (locked exits, blocked lanes, faulty equipment, major hazards) in red, the rest in
    the layer's colours — the web map's two styles, with Chinese legend entries."""
    geometry = spec["geometry"]
    root = QgsRuleBasedRenderer.Rule(None)
    if spec.get("problem_expression"):
        labels = "、".join(spec["problem_labels"])
        rule = QgsRuleBasedRenderer.Rule(
            _symbol(geometry, spec["style"], problem=True),
            filterExp=spec["problem_expression"],
            label=f"问题（{labels}）",
        )
        root.appendChild(rule)
        normal = QgsRuleBasedRenderer.Rule(_symbol(geometry, spec["style"]), label="其他")
        normal.setIsElse(True)
        root.appendChild(normal)
    else:
        root.appendChild(QgsRuleBasedRenderer.Rule(_symbol(geometry, spec["style"]), label=spec["title"]))
    return QgsRuleBasedRenderer(root)


def _labels(field: str, size: float, colour: str, max_scale_denominator: float | None) -> QgsVectorLayerSimpleLabeling:
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    text = QgsTextFormat()
    text.setSize(size)
    text.setColor(QColor(colour))
    buffer = text.buffer()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    buffer.setColor(QColor("white"))
    text.setBuffer(buffer)
    settings.setFormat(text)
    if max_scale_denominator:
        settings.scaleVisibility = True
        settings.minimumScale = max_scale_denominator  # shown when zoomed in beyond 1:max_scale_denominator
        settings.maximumScale = 0
    return QgsVectorLayerSimpleLabeling(settings)


def _placeholder(spec: dict) -> QgsVectorLayer:
    """An empty memory layer with the collection's geometry and fields; its source becomes the OGC API on save."""
    geometry = "LineString" if spec["geometry"] == "LineString" else spec["geometry"]
    fields = "".join(f"&field={f['name']}:{MEMORY_TYPES[f['kind']]}" for f in spec["fields"])
    layer = QgsVectorLayer(f"{geometry}?crs=EPSG:4326&field=id:string{fields}", spec["title"], "memory")
    if not layer.isValid():
        raise RuntimeError(f"placeholder for {spec['key']} is not valid")
    for f in spec["fields"]:
        index = layer.fields().indexOf(f["name"])
        layer.setFieldAlias(index, f["label"])
    layer.setRenderer(_renderer(spec))
    if spec.get("label_field"):
        layer.setLabeling(
            _labels(spec["label_field"], spec.get("label_size", 9), spec["style"]["colour"], spec.get("label_scale"))
        )
        layer.setLabelsEnabled(True)
    if spec.get("display"):
        layer.setDisplayExpression(spec["display"])
    return layer


def _tile_layer(spec: dict, base: str, authcfg: str) -> QgsVectorTileLayer:
    url = f"{base}/tiles/{spec['key']}/%7Bz%7D/%7Bx%7D/%7By%7D.pbf"
    layer = QgsVectorTileLayer(f"type=xyz&url={url}&zmin=10&zmax=16&authcfg={authcfg}", f"{spec['title']}（矢量切片）")
    styles = []
    kind = GEOMETRY_TYPES[spec["geometry"]]
    geometry = "Polygon" if spec["geometry"] == "MultiPolygon" else spec["geometry"]
    normal = QgsVectorTileBasicRendererStyle(spec["title"], spec["key"], kind)
    normal.setSymbol(_symbol(geometry, spec["style"]))
    if expression := spec.get("problem_expression"):
        problem = QgsVectorTileBasicRendererStyle(f"{spec['title']}：问题", spec["key"], kind)
        problem.setSymbol(_symbol(geometry, spec["style"], problem=True))
        problem.setFilterExpression(expression)
        normal.setFilterExpression(f"NOT ({expression})")
        styles.append(problem)
    styles.insert(0, normal)
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(styles)
    layer.setRenderer(renderer)
    return layer


def build(spec_path: str, out: str) -> dict:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    project = QgsProject.instance()
    project.clear()
    project.setTitle(spec["title"])
    project.setCrs(QgsCoordinateReferenceSystem(spec.get("crs", "EPSG:4490")))
    root = project.layerTreeRoot()
    sources: dict[str, str] = {}  # placeholder layer id -> OAPIF data source
    features_group = root.addGroup("要素（OGC API，可查询属性）")
    for item in spec["collections"]:
        layer = _placeholder(item)
        project.addMapLayer(layer, False)
        node = QgsLayerTreeLayer(layer)
        features_group.addChildNode(node)
        sources[layer.id()] = (
            f"url='{spec['base']}/ogc' typename='{item['key']}' authcfg={spec['authcfg']} pageSize=1000"
        )
    tiles_group = root.addGroup("矢量切片（全区快速浏览）")
    for item in spec["collections"]:
        if not item.get("tiles"):
            continue
        tile_layer = _tile_layer(item, spec["base"], spec["authcfg"])
        if not tile_layer.isValid():
            raise RuntimeError(f"vector tile layer {item['key']} is not valid")
        project.addMapLayer(tile_layer, False)
        tiles_group.addLayer(tile_layer).setItemVisibilityChecked(False)
    tiles_group.setItemVisibilityChecked(False)
    tiles_group.setExpanded(False)
    minx, miny, maxx, maxy = spec["extent"]
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(QgsRectangle(minx, miny, maxx, maxy), wgs84))
    project.writeEntry("Paths", "/Absolute", False)
    if not project.write(out):
        raise RuntimeError(f"cannot write {out}: {project.error()}")
    project.clear()
    _point_at_ogc_api(Path(out), sources)
    return {"project": out, "collections": len(sources), "tiles": sum(1 for c in spec["collections"] if c.get("tiles"))}


def _point_at_ogc_api(path: Path, sources: dict[str, str]) -> None:
    """Rewrites each placeholder's provider and data source (the map layer and its layer-tree node) to the OGC API."""
    tree = ET.parse(path)
    root = tree.getroot()
    for maplayer in root.iter("maplayer"):
        layer_id = maplayer.findtext("id")
        if layer_id in sources:
            maplayer.find("datasource").text = sources[layer_id]
            provider = maplayer.find("provider")
            provider.text = "OAPIF"
            provider.set("encoding", "UTF-8")
    for node in root.iter("layer-tree-layer"):
        if node.get("id") in sources:
            node.set("providerKey", "OAPIF")
            node.set("source", sources[node.get("id")])
    if "memory?" in ET.tostring(root, encoding="unicode"):
        raise RuntimeError("a placeholder's memory source was left in the project")
    tree.write(path, encoding="utf-8", xml_declaration=False)


def open_project(path: str, username: str, token: str, authcfg: str, tile: list[str]) -> dict:
    from qgis.core import QgsAuthMethodConfig

    manager = QgsApplication.authManager()
    manager.setMasterPassword("test-master-password", True)
    config = QgsAuthMethodConfig("Basic")
    config.setId(authcfg)  # what the README asks the officer to type in QGIS's ID field
    config.setName("滨海新区消防平台")
    config.setConfig("username", username)
    config.setConfig("password", token)
    if not manager.storeAuthenticationConfig(config, True):
        raise SystemExit("could not store the authentication configuration")
    project = QgsProject.instance()
    if not project.read(path):
        raise SystemExit(f"QGIS cannot read {path}: {project.error()}")
    out = {"title": project.title(), "crs": project.crs().authid(), "layers": {}, "secret_in_project": False}
    text = Path(path).read_text(encoding="utf-8")
    out["secret_in_project"] = token in text or username in text
    for layer in project.mapLayers().values():
        info = {
            "valid": layer.isValid(),
            "provider": layer.providerType(),
            "source": layer.source(),
            "visible": project.layerTreeRoot().findLayer(layer.id()).isVisible(),
        }
        if isinstance(layer, QgsVectorLayer):
            info["count"] = len(list(layer.getFeatures())) if layer.isValid() else None
            info["fields"] = {f.name(): f.alias() for f in layer.fields()}
            info["renderer"] = layer.renderer().type() if layer.renderer() else None
            if isinstance(layer.renderer(), QgsRuleBasedRenderer):
                info["legend"] = [r.label() for r in layer.renderer().rootRule().children()]
            info["labels"] = layer.labelsEnabled()
        elif isinstance(layer, QgsVectorTileLayer) and tile:
            info["styles"] = [s.styleName() for s in layer.renderer().styles()]
            info["pixels"] = _render_tile(layer, *(int(v) for v in tile))
        out["layers"][layer.name()] = info
    return out


def _render_tile(layer, z: int, x: int, y: int) -> dict:
    """Draws one XYZ tile's area at 256 px (QGIS then fetches that zoom's tile, through the layer's authcfg) and counts
    the pixels in the problem colours and in any colour: what a person would see on the map."""
    import math

    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize

    size = 2 * math.pi * 6378137 / 2**z
    minx, maxy = -math.pi * 6378137 + x * size, math.pi * 6378137 - y * size
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(QgsRectangle(minx, maxy - size, minx + size, maxy))
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    problem = QColor(PROBLEM_FILL), QColor(PROBLEM_STROKE)
    counts = {"problem": 0, "drawn": 0}
    for py in range(image.height()):
        for px in range(image.width()):
            colour = QColor(image.pixel(px, py))
            if colour.name() != "#ffffff":
                counts["drawn"] += 1
            if any(
                abs(colour.red() - c.red()) + abs(colour.green() - c.green()) + abs(colour.blue() - c.blue()) < 30
                for c in problem
            ):
                counts["problem"] += 1
    return counts


def main(argv: list[str]) -> int:
    if argv[1] == "build":
        result = build(argv[2], argv[3])
    elif argv[1] == "open":
        result = open_project(argv[2], argv[3], argv[4], argv[5], argv[6:9])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    code = main(sys.argv)
    # QGIS 3.22's exitQgis() can crash while its network threads wind down; the answer is out, so leave at once.
    os._exit(code)
