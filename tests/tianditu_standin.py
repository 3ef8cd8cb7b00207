"""A local stand-in of 天地图's geocoder (GET /geocoder?ds={"keyWord": ...}&tk=...), answering in the recorded shapes
of fixtures/tianditu/: a known address → status "0" with string coordinates; an unknown one → status "101"; a wrong or
missing tk → HTTP 403; a malformed ds → status "404"."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tianditu"


class Standin:
    def __init__(self, key: str, places: dict[str, tuple[float, float, str]]):
        self.key, self.places, self.requests = key, places, []
        found = json.loads((FIXTURES / "geocoder_found.json").read_text(encoding="utf-8"))
        empty = json.loads((FIXTURES / "geocoder_empty.json").read_text(encoding="utf-8"))
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict):
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path != "/geocoder":
                    return self._send(404, {"status": "404", "msg": "not found"})
                if query.get("tk") != [standin.key]:
                    return self._send(403, {"msg": "非法key", "code": 403})
                try:
                    keyword = json.loads(query["ds"][0])["keyWord"]
                except (KeyError, ValueError, TypeError):
                    return self._send(200, {"status": "404", "msg": "参数错误"})
                standin.requests.append(keyword)
                place = standin.places.get(keyword)
                if place is None:
                    return self._send(200, empty)
                lon, lat, level = place
                body = dict(found)
                body["location"] = {"lon": f"{lon:.6f}", "level": level, "lat": f"{lat:.6f}"}
                return self._send(200, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/geocoder"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
