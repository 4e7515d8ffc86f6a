from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF tokens sent the way V2 clients send them: ``Authorization: Bearer <token>``."""

    keyword = "Bearer"
