"""Settings for the Binhai care-home fire-safety platform. Every knob is an environment variable (.env.example)."""

from datetime import timedelta
from pathlib import Path

from gis_app.lib.csp import policy as csp_policy
from gis_app.lib.env import database_from_url, env_bool, env_choice, env_int, env_str, persistent_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

# Production by default: what `make run` starts is what a bureau deploys. DJANGO_DEBUG=true (`make dev`) is for people
# changing code.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or persistent_secret_key(BASE_DIR / ".data" / "secret_key")
ALLOWED_HOSTS = [h for h in env_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# HTTPS unless a plain-http intranet opts out explicitly (DJANGO_INSECURE_HTTP=true; `make run` on 127.0.0.1 does).
# Behind a TLS-terminating proxy the proxy must set X-Forwarded-Proto. `check --deploy` warns while the opt-out is on.
INSECURE_HTTP = env_bool("DJANGO_INSECURE_HTTP", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = not INSECURE_HTTP
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not INSECURE_HTTP
SECURE_HSTS_SECONDS = 0 if INSECURE_HTTP else env_int("DJANGO_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not INSECURE_HTTP
# The preload flag only allows the domain's owner to submit it to the browsers' HSTS list; it submits nothing by itself.
SECURE_HSTS_PRELOAD = not INSECURE_HTTP
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"  # no page of the platform is meant to be framed

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "leaflet",
    "csp",
    "axes",
    "pgtrigger",
    "pghistory",
    "procrastinate.contrib.django",
    "gis_app.jobs",
    "gis_app.notifications",
    "gis_app.carehomes",
    "gis_app.inspections",
    "gis_app.hazards",
    "gis_app.risk",
    "gis_app.rating",
    "gis_app.alarms",
    "gis_app.routing",
    "field_forms",
    "gis_app.public",
    "gis_app.workbench",
    "gis_app.ops",
    "layers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "axes.middleware.AxesMiddleware",
    "gis_app.ops.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gis_app.lib.csp.PlatformCSPMiddleware",
]

ROOT_URLCONF = "gis_app.urls"
WSGI_APPLICATION = "gis_app.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gis_app" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gis_app.carehomes.context.role",
                "gis_app.notifications.views.unread_count",
            ],
        },
    },
]

_default_db = database_from_url(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/gis_app"))
DATABASES = {
    "default": _default_db,
    # A second connection to the same database, so a job's progress is visible to the UI while the job's own
    # work is still inside its transaction. In tests it mirrors "default".
    "progress": {**_default_db, "TEST": {"MIRROR": "default"}},
}
# The alarm webhook's statements run prepared (gis_app.lib.prepared); false behind a pooler that cannot keep them.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "gis_app.lib.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
]
# Password guessing (django-axes), on the login page and the admin alike: after AXES_FAILURE_LIMIT wrong passwords
# for one user name, or from one address and browser, logins are refused for AXES_COOLOFF_MINUTES with a Chinese page
# (HTTP 429). Counted in PostgreSQL, so every process and machine counts together.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "gis_app.carehomes.authentication.ProfileModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "user_agent"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner in every management command's output
AXES_LOCKOUT_CALLABLE = "gis_app.lib.request.locked_out"
# How many proxies stand in front (they append to X-Forwarded-For); 0: the peer address is the client's.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "gis_app.lib.request.client_ip"
# The audit trail's request context (user, address, path) is attached to the statements of requests that change
# things. Attaching it to reads cost every page and tile a user lookup before the view and two set_config calls in
# front of each of its queries; the one audited row a read writes (a token's last use, at most every 5 minutes) is
# recorded without the request's context.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Sessions live in PostgreSQL only: every web process on every machine sees a logout at once. (A per-process cache
# in front of them let a logged-out session live on in the other processes.)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# A tile answer to a signed-in request carries a ticket (layers/tickets.py) that lets that client's tile requests of the
# next seconds skip the session and user lookups; a logout elsewhere reaches a replayed ticket when it expires. 0: off.
TILE_TICKET_SECONDS = env_int("TILE_TICKET_SECONDS", 60)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Tiles under (layer, version, scope, address): a key names its content, so each process may keep its own copy
    # and none ever needs invalidating. Bounded by count (a z14 tile is a few kB, at most a few hundred).
    "tiles": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "tiles",
        "OPTIONS": {"MAX_ENTRIES": env_int("TILE_CACHE_ENTRIES", 5000)},
    },
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "my-work"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "gis_app" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
# Stored files (photos, attachments, exports, field packages) in an S3-compatible bucket instead of MEDIA_ROOT, for
# several machines (django-storages). They are still served only through the platform's permission checks.
MEDIA_S3_BUCKET = env_str("MEDIA_S3_BUCKET")
if MEDIA_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env_str("MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": env_str("MEDIA_S3_REGION") or None,
            "access_key": env_str("MEDIA_S3_ACCESS_KEY") or None,
            "secret_key": env_str("MEDIA_S3_SECRET_KEY") or None,
            "location": env_str("MEDIA_S3_PREFIX"),
            "addressing_style": env_str("MEDIA_S3_ADDRESSING_STYLE", "path"),
            "file_overwrite": False,
            "default_acl": None,  # the bucket's own policy: private
        },
    }
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

REST_FRAMEWORK = {
    # Token first: an anonymous API request then gets 401 with `WWW-Authenticate: Token`, never data.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gis_app.carehomes.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# API tokens expire after this many days unless issued with another lifetime.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 180)

SPECTACULAR_SETTINGS = {
    "TITLE": "滨海新区养老机构消防安全平台 API",
    "DESCRIPTION": (
        "GeoJSON APIs of the care homes, 街镇, hazards (and their lifecycle), inspections, site-plan layers (REST, "
        "OGC API - Features, vector tiles, downloads) and risk figures, each scoped to the caller's role. Sign in with "
        "a session, `Authorization: Token <key>` (manage.py create_api_token) or HTTP Basic with a GIS token as the "
        "password. Errors name the field or parameter refused."
    ),
    "VERSION": "1.0.0",
    # Raw schemas registered by the views (gis_app.lib.api.component) join the document's components.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gis_app.lib.api.add_components",
        "gis_app.carehomes.api.home_geometry_may_be_null",
    ],
}

# Basemap: "tianditu" (needs TIANDITU_KEY), "osm", "mbtiles" (a raster MBTiles file on this server, BASEMAP_MBTILES:
# an intranet's own basemap, e.g. exported by QGIS), or "none" (blank background; works offline and on an intranet).
TIANDITU_KEY = env_str("TIANDITU_KEY")
BASEMAP_MBTILES = env_str("BASEMAP_MBTILES")
BASEMAP = env_choice(
    "BASEMAP",
    "mbtiles" if BASEMAP_MBTILES else "tianditu" if TIANDITU_KEY else "none",
    {"tianditu", "osm", "mbtiles", "none"},
)
if BASEMAP == "tianditu" and not TIANDITU_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("BASEMAP=tianditu needs TIANDITU_KEY")

_TILE_URLS = {
    "tianditu": f"https://t{{s}}.tianditu.gov.cn/DataServer?T=vec_w&x={{x}}&y={{y}}&l={{z}}&tk={TIANDITU_KEY}",
    "osm": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "mbtiles": "/basemap/{z}/{x}/{y}",  # served by gis_app.views.basemap_tile from BASEMAP_MBTILES
    "none": "",
}
BASEMAP_TILE_URL = _TILE_URLS[BASEMAP]
BASEMAP_LABEL_URL = (
    f"https://t{{s}}.tianditu.gov.cn/DataServer?T=cva_w&x={{x}}&y={{y}}&l={{z}}&tk={TIANDITU_KEY}"
    if BASEMAP == "tianditu"
    else ""
)
BASEMAP_ATTRIBUTION = {
    "tianditu": "天地图 © 国家地理信息公共服务平台",
    "osm": "© OpenStreetMap contributors",
    "mbtiles": env_str("BASEMAP_ATTRIBUTION", "本地底图"),
    "none": "",
}[BASEMAP]

# Scripts run only from /static/ or with the request's nonce: a value that slips through unescaped cannot run.
CONTENT_SECURITY_POLICY = csp_policy(
    tile_hosts={"tianditu": ["https://*.tianditu.gov.cn"], "osm": ["https://tile.openstreetmap.org"]}.get(BASEMAP, [])
)

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (39.0, 117.6),
    "DEFAULT_ZOOM": 10,
    "TILES": [("底图", BASEMAP_TILE_URL, {"attribution": BASEMAP_ATTRIBUTION, "subdomains": "01234567"})]
    if BASEMAP_TILE_URL
    else [],
    "RESET_VIEW": False,
}

# Site-plan features must lie within this distance of their care home (metres).
LAYER_MAX_DISTANCE_M = env_int("LAYER_MAX_DISTANCE_M", 500)
# How far outside the district outline a care home may lie before an import refuses it (metres).
CAREHOME_DISTRICT_TOLERANCE_M = env_int("CAREHOME_DISTRICT_TOLERANCE_M", 0)
# The longest free text (a note, a description) anyone may store.
MAX_TEXT_LENGTH = env_int("MAX_TEXT_LENGTH", 5000)
# The job queue is Procrastinate's (PostgreSQL: LISTEN/NOTIFY, SKIP LOCKED, worker heartbeats); gis_app.jobs keeps
# what users see of a job (its page, progress, result files and the reason of a failure).
JOB_WORKER_POLL_SECONDS = env_int("JOB_WORKER_POLL_SECONDS", 2)  # a fallback: LISTEN/NOTIFY wakes a worker at once
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)  # each worker's heartbeat, however long its job waits
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 60)  # a worker this long silent is gone; its job retried
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
PROCRASTINATE_WORKER_DEFAULTS = {
    "concurrency": 1,  # handlers are blocking code: one job per worker process, more processes for more jobs
    "fetch_job_polling_interval": JOB_WORKER_POLL_SECONDS,
    "abort_job_polling_interval": max(JOB_WORKER_POLL_SECONDS, 5),
    "update_heartbeat_interval": JOB_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": JOB_STALE_AFTER_SECONDS,
    "delete_jobs": "successful",  # the queue keeps what is left to do or failed; the Job rows keep the history
}
JOB_PROGRESS_DATABASE = "progress"  # the second connection above; tests inside one transaction use "default"

# gis.W001: GDAL 3.6 cannot block file/network access from spatial references. We never hand GDAL an SRS text from
# a user: importers only *identify* an EPSG code and build the transformation from that integer.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# IoT alarms: webhook signatures older than this are refused as replays; a fault/isolation/power loss without a
# recovery for this long, or this many false fire alarms of one device in 30 days, becomes a hazard in the ledger.
ALARM_SIGNATURE_WINDOW_SECONDS = env_int("ALARM_SIGNATURE_WINDOW_SECONDS", 300)
ALARM_MAX_BODY_BYTES = env_int("ALARM_MAX_BODY_BYTES", 256 * 1024)
# Events older than this (a gateway replaying its buffer after an outage) are still taken; older ones are refused.
ALARM_MAX_AGE_DAYS = env_int("ALARM_MAX_AGE_DAYS", 30)
ALARM_FAULT_HOURS = env_int("ALARM_FAULT_HOURS", 24)
ALARM_FALSE_ALARMS = env_int("ALARM_FALSE_ALARMS", 3)
# MQTT broker for alarm events (e.g. mqtt://127.0.0.1:1883); topics alarms/<vendor>/events. Empty: no subscriber.
MQTT_URL = env_str("MQTT_URL")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")
# Reminders and escalations also go by e-mail (to users with an address) when this is on.
EMAIL_NOTIFICATIONS = env_bool("EMAIL_NOTIFICATIONS", False)

# The ledger: default rectification deadline per severity (days from the day found), and how many days ahead the
# responsible person is reminded.
HAZARD_DUE_DAYS = {"general": env_int("HAZARD_DUE_DAYS_GENERAL", 30), "major": env_int("HAZARD_DUE_DAYS_MAJOR", 90)}
HAZARD_REMINDER_DAYS = env_int("HAZARD_REMINDER_DAYS", 3)
# Checks: shift checks expected per day, and the first day missed checks are counted (the platform's start).
SHIFTS_PER_DAY = env_int("SHIFTS_PER_DAY", 2)
CHECKS_TRACKED_FROM = env_str("CHECKS_TRACKED_FROM", "2020-08-01")
# The daily job (reminders, escalation) runs once a day from this local hour on.
DAILY_JOBS_HOUR = env_int("DAILY_JOBS_HOUR", 7)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},  # not a line per login; lock-outs are still logged
        "procrastinate": {"level": "WARNING"},  # not a line per job deferred or task registered...
        "procrastinate.worker": {"level": "INFO"},  # ...but a worker says which job it started and how it ended
    },
}

# Geocoding homes listed with an address only (carehomes/geocoder.py): 天地图 when TIANDITU_KEY (above) is set.
TIANDITU_GEOCODER_URL = env_str("TIANDITU_GEOCODER_URL", "https://api.tianditu.gov.cn/geocoder")
GEOCODER_ADDRESS_PREFIX = env_str("GEOCODER_ADDRESS_PREFIX", "天津市滨海新区")
GEOCODER_TIMEOUT_SECONDS = env_int("GEOCODER_TIMEOUT_SECONDS", 10)

# QField / QFieldCloud (field_forms). Projects are generated by Debian's QGIS under this interpreter.
QGIS_PYTHON = env_str("QGIS_PYTHON", "/usr/bin/python3")
# The id of the QGIS authentication configuration (Basic: user name + GIS token) the desktop project names; 7 letters
# or digits, typed once into QGIS by the GIS officer (README).
QGIS_AUTHCFG_ID = env_str("QGIS_AUTHCFG_ID", "bhfire1")
QFIELDCLOUD_URL = env_str("QFIELDCLOUD_URL")  # e.g. https://app.qfield.cloud/api/v1/ or a self-hosted server
QFIELDCLOUD_TOKEN = env_str("QFIELDCLOUD_TOKEN")
QFIELDCLOUD_USERNAME = env_str("QFIELDCLOUD_USERNAME")  # used only when no token is given
QFIELDCLOUD_PASSWORD = env_str("QFIELDCLOUD_PASSWORD")
QFIELDCLOUD_OWNER = env_str("QFIELDCLOUD_OWNER")  # an organisation to own the projects; default: the user
QFIELDCLOUD_JOB_TIMEOUT = env_int("QFIELDCLOUD_JOB_TIMEOUT", 900)
QFIELDCLOUD_POLL_SECONDS = float(env_str("QFIELDCLOUD_POLL_SECONDS", "3"))
# After a push, the server's packaging is followed by a job that looks every this many seconds (no worker held).
QFIELDCLOUD_PACKAGE_POLL_SECONDS = float(env_str("QFIELDCLOUD_PACKAGE_POLL_SECONDS", "10"))
FIELD_PROJECTS_DIR = Path(env_str("FIELD_PROJECTS_DIR", str(BASE_DIR / ".data" / "field")))
