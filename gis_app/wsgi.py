import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
django_application = get_wsgi_application()

from gis_app.alarms.fast import AlarmWebhookFastPath  # noqa: E402 - needs the settings configured above

application = AlarmWebhookFastPath(django_application)
