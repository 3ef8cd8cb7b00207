from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gis_app.carehomes.models import ApiToken, TokenPurpose
from gis_app.carehomes.tokens import issue, revoke


class Command(BaseCommand):
    help = (
        "Issues an API token for a user and prints it once (only its hash is kept). Scripts send "
        "`Authorization: Token <key>`; desktop GIS uses HTTP Basic with the user name and the token as the password."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--purpose", choices=TokenPurpose.values, default=TokenPurpose.API)
        parser.add_argument("--name", default="", help="what it is for, e.g. 科室 QGIS")
        parser.add_argument("--days", type=int, default=None, help="lifetime (default API_TOKEN_DAYS)")
        parser.add_argument("--revoke-all", action="store_true", help="revoke the user's tokens instead")

    def handle(self, *args, username: str, purpose: str, name: str, days: int | None, revoke_all: bool, **opts):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"用户不存在：{username}") from None
        if revoke_all:
            tokens = list(ApiToken.objects.filter(user=user, revoked_at=None))
            for token in tokens:
                revoke(token)
            self.stdout.write(f"已吊销 {len(tokens)} 个令牌")
            return
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--days 应在 1 到 3650 之间")
        token, key = issue(user, purpose=purpose, name=name, days=days)
        self.stderr.write(f"{token.get_purpose_display()}，{token.expires_at:%Y-%m-%d} 到期。令牌只显示这一次：")
        self.stdout.write(key)
