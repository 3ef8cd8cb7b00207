import json
import signal
import sys
import time
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connections

from gis_app.alarms.models import Vendor
from gis_app.alarms.services import IngestError, ingest


class Command(BaseCommand):
    help = "Subscribes to alarms/<vendor>/events on the MQTT broker (MQTT_URL) and stores the events, like the webhook."

    # A message is acknowledged to the broker only once it is stored (or refused for good): while PostgreSQL is away,
    # the subscriber retries, and if it gives up it exits unacknowledged, so the broker delivers the message again to
    # the restarted subscriber. Storing is idempotent (vendor event ids), so a redelivery stores nothing twice.
    DB_RETRY_SECONDS = 60

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.MQTT_URL, help="mqtt://user:password@host:port")

    def handle(self, *args, url: str, **opts):
        import paho.mqtt.client as mqtt

        if not url:
            raise CommandError("MQTT_URL is not set")
        parsed = urlparse(url)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="gis_app-alarms", clean_session=False, manual_ack=True
        )
        if parsed.username:
            client.username_pw_set(parsed.username, parsed.password)

        def on_connect(c, userdata, flags, reason, properties):
            c.subscribe("alarms/+/events", qos=1)

        def on_subscribe(c, userdata, mid, reason_codes, properties):
            # Said once the broker confirmed (SUBACK), not when asked: a message published in between was lost.
            self.stdout.write(f"subscribed to alarms/+/events on {parsed.hostname}:{parsed.port or 1883}")
            self.stdout.flush()

        def store(vendor, events):
            waited, pause = 0.0, 1.0
            while True:
                try:
                    close_old_connections()
                    return ingest(vendor, events)
                except DatabaseError as exc:
                    connections.close_all()
                    if waited >= self.DB_RETRY_SECONDS:
                        self.stderr.write(f"database unavailable for {waited:.0f} s ({exc}); exiting unacknowledged")
                        sys.exit(1)
                    self.stderr.write(f"database unavailable ({str(exc).strip()[:200]}); retrying in {pause:.0f} s")
                    time.sleep(pause)
                    waited += pause
                    pause = min(pause * 2, 10)

        def on_message(c, userdata, msg):
            vendor_slug = msg.topic.split("/")[1]
            close_old_connections()
            vendor = Vendor.objects.filter(slug=vendor_slug, active=True).first()
            if vendor is None:
                self.stderr.write(f"dropped: unknown vendor in topic {msg.topic}")
            else:
                try:
                    data = json.loads(msg.payload)
                    events = data.get("events") if isinstance(data, dict) and "events" in data else [data]
                    result = store(vendor, events)
                    self.stdout.write(f"{msg.topic}: accepted {result.accepted}, duplicates {result.duplicates}")
                except (IngestError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                    self.stderr.write(f"dropped: {msg.topic}: refused: {exc}")
            c.ack(msg.mid, msg.qos)
            self.stdout.flush()

        def stop(signum, _frame):
            self.stderr.write(f"signal {signum}: disconnecting")
            client.disconnect()

        signal.signal(signal.SIGTERM, stop)
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        try:
            client.loop_forever()
        except KeyboardInterrupt:
            client.disconnect()
