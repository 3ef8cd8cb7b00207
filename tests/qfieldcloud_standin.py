"""A local stand-in for QFieldCloud's HTTP API (/api/v1/), serving real HTTP on 127.0.0.1 with the real server's paths,
response shapes and status codes for what qfieldcloud-sdk and field_forms.cloud use (docker-app/qfieldcloud/core/urls.py
and its serializers): auth/login/, status/, projects/ CRUD, files/<project>/ list/upload/download (etag, 304, versions,
is_attachment under DCIM/), jobs/, packages/<project>/latest/, deltas/<project>/ POST and GET.

Pushed deltas are applied like the server's worker does it, by real QGIS (field_forms/qgis_project.py apply-deltas) on the
latest project files; the changed GeoPackage becomes a new file version and each delta gets its status
(STATUS_APPLIED / STATUS_CONFLICT / STATUS_NOT_APPLIED / STATUS_ERROR). Pagination follows limit/offset with the
X-Total-Count and X-Next-Page headers.
"""

import hashlib
import json
import shutil
import tempfile
import threading
import uuid
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from field_forms.package import run_qgis

STATUS = {"applied": "STATUS_APPLIED", "conflict": "STATUS_CONFLICT", "not_applied": "STATUS_NOT_APPLIED",
          "error": "STATUS_ERROR"}  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class State:
    def __init__(self, username: str, password: str):
        self.lock = threading.RLock()
        self.users = {username: password}
        self.tokens: dict[str, str] = {}
        self.projects: dict[str, dict] = {}
        self.files: dict[str, dict[str, list[dict]]] = {}
        self.jobs: dict[str, dict] = {}
        self.deltas: dict[str, list[dict]] = {}
        self.packages: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.apply_synchronously = False
        # Plan limits, as a subscription sets them: projects an account may own (beyond: 403
        # permission_denied_plan_insufficient), and file versions kept (the oldest are dropped).
        self.max_projects: int | None = None
        self.max_versions = 3
        # How a package job ends: "finished" at once, or stays "queued" (no server worker running), or "failed"
        # with `package_output` as its reason. A job's status can be changed in `jobs` later.
        self.package_outcome = "finished"
        self.package_output = ""


class Handler(BaseHTTPRequestHandler):
    state: State
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # --- plumbing -----------------------------------------------------------------------------------------------
    def _send(self, status: int, body=None, headers: dict | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str):
        self._send(status, {"code": code, "message": message})

    def _body(self) -> tuple[dict, dict]:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + data)
            fields, files = {}, {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    files[name] = (part.get_filename(), payload)
                else:
                    fields[name] = payload.decode()
            return fields, files
        if ctype.startswith("application/json"):
            return json.loads(data or b"{}"), {}
        return {k: v[0] for k, v in parse_qs(data.decode()).items()}, {}

    def _user(self) -> str | None:
        keyword, _, key = self.headers.get("Authorization", "").partition(" ")
        if keyword.lower() == "token" and key in self.state.tokens:  # the keyword in any case, as DRF reads it
            return self.state.tokens[key]
        return None

    def _paginate(self, items: list, query: dict):
        limit = int(query.get("limit", ["0"])[0] or 0)
        offset = int(query.get("offset", ["0"])[0] or 0)
        headers = {"X-Total-Count": str(len(items))}
        if limit:
            page = items[offset : offset + limit]
            if offset + limit < len(items):
                q = {k: v[0] for k, v in query.items()} | {"limit": limit, "offset": offset + limit}
                headers["X-Next-Page"] = f"http://{self.headers['Host']}{urlparse(self.path).path}?{urlencode(q)}"
        else:
            page = items
        self._send(200, page, headers)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PATCH(self):
        self._route("PATCH")

    def do_DELETE(self):
        self._route("DELETE")

    def _route(self, method: str):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        path = url.path
        self.state.requests.append((method, path))
        if not path.startswith("/api/v1/") or not path.endswith("/"):
            return self._error(404, "not_found", "Not found")
        parts = [p for p in path[len("/api/v1/") :].split("/") if p]
        self._after = None
        with self.state.lock:
            try:
                self._dispatch(method, parts, query)
            except KeyError:
                return self._error(404, "object_not_found", "Object not found")
        if self._after is not None:  # a delta push: the worker runs outside the lock (it takes it itself)
            worker, created = self._after
            worker.start()
            if self.state.apply_synchronously:
                worker.join()
            self._send(200, raw=b"")  # the real server answers the push with an empty body

    # --- endpoints ----------------------------------------------------------------------------------------------
    def _dispatch(self, method, parts, query):
        s = self.state
        if parts == ["auth", "login"] and method == "POST":
            fields, _ = self._body()
            if s.users.get(fields.get("username")) != fields.get("password") or not fields.get("password"):
                return self._error(400, "invalid_credentials", "Unable to log in with provided credentials.")
            token = uuid.uuid4().hex
            s.tokens[token] = fields["username"]
            return self._send(200, {"token": token, "expires_at": "2099-01-01T00:00:00Z", "username": fields["username"],
                                    "type": 1, "email": "", "avatar_url": None, "first_name": "", "last_name": "",
                                    "full_name": fields["username"]})  # fmt: skip
        if parts == ["status"]:
            return self._send(200, {"database": "ok", "storage": "ok"})
        user = self._user()
        if user is None:
            return self._error(401, "not_authenticated", "Authentication credentials were not provided.")
        head, rest = parts[0], parts[1:]
        if head == "projects":
            return self._projects(method, rest, query, user)
        if head == "files":
            return self._files(method, rest, user)
        if head == "jobs":
            return self._jobs(method, rest, query, user)
        if head == "packages":
            return self._packages(rest)
        if head == "deltas":
            return self._deltas(method, rest, query, user)
        return self._error(404, "not_found", "Not found")

    def _projects(self, method, rest, query, user):
        s = self.state
        if not rest and method == "GET":
            return self._paginate([p for p in s.projects.values() if p["owner"] == user], query)
        if not rest and method == "POST":
            fields, _ = self._body()
            if not fields.get("name"):
                return self._send(400, {"name": ["This field is required."]})
            owner = fields.get("owner") or user
            if s.max_projects is not None and sum(p["owner"] == owner for p in s.projects.values()) >= s.max_projects:
                return self._error(
                    403,
                    "permission_denied_plan_insufficient",
                    "Your current plan does not allow this action. Please upgrade your plan.",
                )
            if any(
                p["name"] == fields["name"] and p["owner"] == (fields.get("owner") or user) for p in s.projects.values()
            ):
                return self._error(
                    400, "project_already_exists", "This user already owns a project with the same name."
                )
            pid = str(uuid.uuid4())
            s.projects[pid] = {"id": pid, "name": fields["name"], "owner": fields.get("owner") or user,
                               "description": fields.get("description", ""), "private": True, "is_public": False,
                               "created_at": now(), "updated_at": now(), "data_last_packaged_at": None,
                               "data_last_updated_at": None, "can_repackage": True, "needs_repackaging": True,
                               "status": "ok", "user_role": "admin", "user_role_origin": "project_owner",
                               "the_qgis_file_name": None, "overwrite_conflicts": True}  # fmt: skip
            s.files[pid], s.deltas[pid] = {}, []
            return self._send(201, s.projects[pid])
        project = s.projects[rest[0]]
        if method == "GET":
            return self._send(200, project)
        if method == "PATCH":
            fields, _ = self._body()
            for key in ("name", "description", "overwrite_conflicts", "is_public"):
                if key in fields:
                    value = fields[key]
                    project[key] = (
                        value in ("True", "true", True) if key in ("overwrite_conflicts", "is_public") else value
                    )
            project["updated_at"] = now()
            return self._send(200, project)
        if method == "DELETE":
            del s.projects[rest[0]]
            return self._send(204)
        return self._error(405, "method_not_allowed", "Method not allowed")

    def _file_info(self, name, versions):
        latest = versions[-1]
        return {"name": name, "size": len(latest["data"]), "uploaded_at": latest["uploaded_at"],
                "is_attachment": name.startswith("DCIM/"), "md5sum": latest["md5sum"], "sha256": latest["sha256"],
                "last_modified": latest["uploaded_at"],
                "versions": [{"version_id": v["version_id"], "last_modified": v["uploaded_at"], "size": len(v["data"]),
                              "md5sum": v["md5sum"], "sha256": v["sha256"], "is_latest": v is latest,
                              "display": v["uploaded_at"]} for v in versions]}  # fmt: skip

    def _store(self, pid: str, name: str, data: bytes):
        _store(self.state, pid, name, data)

    def _files(self, method, rest, user):
        s = self.state
        pid = rest[0]
        project = s.projects[pid]
        files = s.files[pid]
        if len(rest) == 1:
            return self._send(200, [self._file_info(n, v) for n, v in sorted(files.items())])
        name = "/".join(rest[1:])
        if method == "POST":
            _, uploads = self._body()
            if "file" not in uploads:
                return self._error(400, "empty_content", "Empty content")
            if name.endswith((".qgs", ".qgz")):
                others = [n for n in files if n.endswith((".qgs", ".qgz")) and n != name]
                if others:
                    return self._error(400, "multiple_projects", "Only one QGIS project per project allowed")
                project["the_qgis_file_name"] = name
            self._store(pid, name, uploads["file"][1])
            project["needs_repackaging"] = True
            return self._send(201, self._file_info(name, files[name]))
        versions = files[name]
        if method == "DELETE":
            del files[name]
            return self._send(204)
        wanted = self.headers.get("x-file-version") or ""
        version = next((v for v in versions if v["version_id"] == wanted), versions[-1])
        if self.headers.get("If-None-Match") == version["md5sum"]:
            return self._send(304, raw=b"")
        return self._send(200, raw=version["data"], headers={"ETag": f'"{version["md5sum"]}"'})

    def _job(self, pid, kind, user, status="finished", output=""):
        job = {"id": str(uuid.uuid4()), "project_id": pid, "type": kind, "status": status, "created_at": now(),
               "updated_at": now(), "created_by": user, "finished_at": now() if status == "finished" else None,
               "output": output}  # fmt: skip
        self.state.jobs[job["id"]] = job
        return job

    def _jobs(self, method, rest, query, user):
        s = self.state
        if not rest and method == "POST":
            fields, _ = self._body()
            pid, kind = fields.get("project_id"), fields.get("type")
            if pid not in s.projects:
                return self._error(400, "object_not_found", "Project not found")
            if kind == "delta_apply":  # the real server answers 500 here (ApplyJobSerializer, see notes)
                return self._error(500, "server_error", "null value in column overwrite_conflicts")
            if kind not in ("package", "process_projectfile"):
                return self._send(400, {"type": [f'"{kind}" is not a valid choice.']})
            project = s.projects[pid]
            if kind == "package":
                if not project["the_qgis_file_name"]:
                    return self._error(400, "no_qgis_project_file", "Project has no QGIS project file")
                if s.package_outcome != "finished":
                    return self._send(201, self._job(pid, kind, user, s.package_outcome, s.package_output))
                s.packages[pid] = {name: versions[-1] for name, versions in s.files[pid].items()}
                project["package_id"] = str(uuid.uuid4())
                project["data_last_packaged_at"] = now()
                project["needs_repackaging"] = False
            return self._send(201, self._job(pid, kind, user))
        if not rest and method == "GET":
            pid, kind = query.get("project_id", [""])[0], query.get("type", [""])[0]
            jobs = [
                {k: v for k, v in j.items() if k != "output"}  # the list never carries the output
                for j in s.jobs.values()
                if j["project_id"] == pid and (not kind or j["type"] == kind)
            ]
            return self._paginate(jobs, query)
        return self._send(200, s.jobs[rest[0]])

    def _packages(self, rest):
        project = self.state.projects[rest[0]]
        package = self.state.packages.get(rest[0])
        if package is None:
            return self._error(400, "invalid_job", "No package available")
        if len(rest) >= 3 and rest[2] == "files":
            return self._send(200, raw=package["/".join(rest[3:])]["data"])
        return self._send(200, {"files": [{"name": n, "size": len(v["data"]), "md5sum": v["md5sum"],
                                           "sha256": v["sha256"]} for n, v in package.items()],
                                "layers": {}, "status": "finished", "package_id": project["package_id"],
                                "packaged_at": project["data_last_packaged_at"],
                                "data_last_updated_at": project["data_last_updated_at"]})  # fmt: skip

    def _deltas(self, method, rest, query, user):
        s = self.state
        pid = rest[0]
        s.projects[pid]  # 404 for an unknown project
        if method == "GET":
            return self._paginate([{k: v for k, v in d.items()} for d in s.deltas[pid]], query)
        _, uploads = self._body()
        if "file" not in uploads:
            return self._error(400, "empty_content", "Empty content")
        try:
            deltafile = json.loads(uploads["file"][1])
        except ValueError:
            return self._error(400, "invalid_deltafile", "Invalid delta file")
        # The real server validates against docker-qgis/schemas/deltafile_01.json and, on failure, raises out of the
        # view: HTTP 500 with Django's plain error page, not a JSON error (measured; see the issue on field sync).
        problem = deltafile_problem(deltafile)
        if problem:
            return self._send(500, raw=f"<h1>Server Error (500)</h1><!-- {problem} -->".encode())
        known = {d["id"] for d in s.deltas[pid]}
        created = []
        for delta in deltafile["deltas"]:
            if delta["uuid"] in known:
                continue
            row = {"id": delta["uuid"], "deltafile_id": deltafile["id"], "created_by": user, "created_at": now(),
                   "updated_at": now(), "status": "STATUS_PENDING", "output": None, "last_status": "STATUS_PENDING",
                   "last_feedback": None, "content": delta}  # fmt: skip
            s.deltas[pid].append(row)
            created.append(row)
        job = self._job(pid, "delta_apply", user, status="queued")
        worker = threading.Thread(target=apply_deltas, args=(s, pid, job["id"], deltafile, created), daemon=True)
        self._after = (worker, created)


DELTAFILE_REQUIRED = ("version", "id", "project", "deltas", "files")
DELTA_REQUIRED = ("uuid", "localPk", "sourcePk", "localLayerId", "sourceLayerId", "method")


def deltafile_problem(deltafile) -> str | None:
    """What the real server refuses: the deltafile_01 schema's required properties, and a delta without clientId
    (the view reads delta["clientId"]: KeyError)."""
    if not isinstance(deltafile, dict):
        return "deltafile is not an object"
    for key in DELTAFILE_REQUIRED:
        if key not in deltafile:
            return f"'{key}' is a required property"
    if deltafile["version"] != "1.0" or not isinstance(deltafile["deltas"], list):
        return "unsupported deltafile version or deltas not an array"
    for delta in deltafile["deltas"]:
        for key in DELTA_REQUIRED:
            if key not in delta:
                return f"'{key}' is a required property"
        if delta["method"] not in ("create", "patch", "delete"):
            return f"'{delta['method']}' is not one of ['create', 'patch', 'delete']"
        if "clientId" not in delta:
            return "KeyError: 'clientId'"
    return None


def apply_deltas(state: State, pid: str, job_id: str, deltafile: dict, rows: list[dict]) -> None:
    """The worker's delta_apply, with real QGIS on a copy of the latest files."""
    with state.lock:
        state.jobs[job_id]["status"] = "started"
        files = {name: versions[-1]["data"] for name, versions in state.files[pid].items()}
        overwrite = state.projects[pid]["overwrite_conflicts"]
    work = Path(tempfile.mkdtemp(prefix="qfc-standin-"))
    try:
        for name, data in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        gpkgs = {p.name: p.read_bytes() for p in work.glob("*.gpkg")}
        # The server does not apply several edits of one feature in their order: here the first is applied and the
        # later ones come back STATUS_CONFLICT, the worst case of what it does.
        first, later = [], {}
        seen_features = set()
        for r in rows:
            c = r["content"]
            feature = (c.get("sourceLayerId"), str(c.get("sourcePk")))
            if c.get("method") != "create" and feature in seen_features:
                later[r["id"]] = ("conflict", "Another change of this feature in the same deltafile was applied first")
                continue
            seen_features.add(feature)
            first.append(r)
        (work / ".deltafile.json").write_text(json.dumps({**deltafile, "deltas": [r["content"] for r in first]}))
        args = ["apply-deltas", str(work), str(work / ".deltafile.json")] + (["--overwrite"] if overwrite else [])
        result = {**run_qgis(*args), **later}
        with state.lock:
            for row in rows:
                status, message = result.get(row["id"], ("error", "not processed"))
                row["status"] = row["last_status"] = STATUS[status]
                row["output"] = row["last_feedback"] = message or None
                row["updated_at"] = now()
            for path in work.glob("*.gpkg"):
                data = path.read_bytes()
                if data != gpkgs.get(path.name):
                    _store(state, pid, path.name, data)
            state.projects[pid]["data_last_updated_at"] = now()
            state.jobs[job_id].update(status="finished", finished_at=now(), updated_at=now())
    except Exception as exc:  # noqa: BLE001 - the job fails visibly, as the server's would
        with state.lock:
            state.jobs[job_id].update(status="failed", output=str(exc)[:500], updated_at=now())
            for row in rows:
                row["status"] = row["last_status"] = "STATUS_ERROR"
                row["output"] = str(exc)[:200]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _store(state: State, pid: str, name: str, data: bytes) -> None:
    versions = state.files[pid].setdefault(name, [])
    versions.append({
        "data": data, "md5sum": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
        "uploaded_at": now(), "version_id": str(uuid.uuid4())})  # fmt: skip
    del versions[: -state.max_versions]  # the server keeps a bounded number of versions per file


class StandIn:
    """with StandIn() as cloud: cloud.url is .../api/v1/; cloud.state has what the server holds."""

    def __init__(self, username: str = "inspector", password: str = "secret-pass"):
        self.state = State(username, password)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/"
        self.username, self.password = username, password

    def token(self) -> str:
        token = uuid.uuid4().hex
        self.state.tokens[token] = self.username
        return token

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
