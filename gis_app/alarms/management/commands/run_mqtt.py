import json
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gis_app.alarms.models import Vendor
from gis_app.alarms.services import IngestError, ingest


class Command(BaseCommand):
    help = "Subscribes to alarms/<vendor>/events on the MQTT broker (MQTT_URL) and stores the events, like the webhook."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.MQTT_URL, help="mqtt://user:password@host:port")

    def handle(self, *args, url: str, **opts):
        import paho.mqtt.client as mqtt

        if not url:
            raise CommandError("MQTT_URL is not set")
        parsed = urlparse(url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gis_app-alarms", clean_session=False)
        if parsed.username:
            client.username_pw_set(parsed.username, parsed.password)

        def on_connect(c, userdata, flags, reason, properties):
            c.subscribe("alarms/+/events", qos=1)
            self.stdout.write(f"subscribed to alarms/+/events on {parsed.hostname}:{parsed.port or 1883}")
            self.stdout.flush()

        def on_message(c, userdata, msg):
            vendor_slug = msg.topic.split("/")[1]
            vendor = Vendor.objects.filter(slug=vendor_slug, active=True).first()
            if vendor is None:
                self.stderr.write(f"unknown vendor in topic {msg.topic}")
                return
            try:
                data = json.loads(msg.payload)
                events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
                result = ingest(vendor, events)
                self.stdout.write(f"{msg.topic}: accepted {result.accepted}, duplicates {result.duplicates}")
            except (IngestError, json.JSONDecodeError) as exc:
                self.stderr.write(f"{msg.topic}: refused: {exc}")
            self.stdout.flush()

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        try:
            client.loop_forever()
        except KeyboardInterrupt:
            client.disconnect()
