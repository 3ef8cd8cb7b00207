"""How programs sign in to the API: `Authorization: Token <key>` for scripts, and HTTP Basic with the user name and a
token as the password for desktop GIS (QGIS 3.22 can send nothing else). The account password is never accepted by
the API: over a plain-http intranet it would travel with every tile request."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import TokenPurpose
from .tokens import check


class HashedTokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        user = check(key)
        if user is None:
            raise exceptions.AuthenticationFailed("令牌无效、已过期、已吊销，或在修改密码后失效")
        return (user, None)


class TokenBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic: user name + an API token (any purpose) as the password."""

    www_authenticate_realm = "Binhai care-home fire safety GIS"

    def authenticate_credentials(self, userid, password, request=None):
        user = check(password, purposes=(TokenPurpose.GIS, TokenPurpose.API))
        if user is None or user.get_username() != userid:
            raise exceptions.AuthenticationFailed("用户名或令牌不正确（密码处请填写访问令牌，而不是登录密码）")
        return (user, None)


# The GIS endpoints (OGC API, tiles, downloads, the GeoJSON API): Basic first, so an anonymous request is answered
# 401 with `WWW-Authenticate: Basic`, which QGIS and GDAL answer with their stored credentials.
GIS = [TokenBasicAuthentication, HashedTokenAuthentication, authentication.SessionAuthentication]


class TokenBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of TokenBasicAuthentication: HTTP Basic, the password being an API token."""

    target_class = TokenBasicAuthentication
    name = "basicToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "User name and an API token (create_api_token) as the password; never the login password.",
        }


class ProfileModelBackend(ModelBackend):
    """Django's ModelBackend, reading the user's profile (role and scope) with the user: one query per request less,
    since nearly every page and tile asks for the role."""

    def get_user(self, user_id):
        user = get_user_model()._default_manager.select_related("profile").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
