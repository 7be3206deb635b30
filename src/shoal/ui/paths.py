"""The UI's path prefix and its cookies' names."""

UI_PREFIX = "/ui"
SESSION_COOKIE = "shoal_session"
# Before sign-in there is no session to hold a CSRF token: the sign-in forms carry a token that
# must match this cookie (double submit).
SIGN_IN_CSRF_COOKIE = "shoal_sign_in_csrf"
