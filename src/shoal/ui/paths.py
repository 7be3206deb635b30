"""The UI's path prefix and its cookies' names."""

UI_PREFIX = "/ui"
SESSION_COOKIE = "shoal_session"
# Before sign-in there is no session to hold a CSRF token: the sign-in forms carry a token that
# must match this cookie (double submit).
SIGN_IN_CSRF_COOKIE = "shoal_sign_in_csrf"
# The spec editor's form posts: they carry a whole spec, so the request guard gives them the
# spec routes' body limit (`api_max_spec_body_bytes`) rather than the normal one.
UI_SPEC_ROUTES = (
    f"{UI_PREFIX}/spec/validate",
    f"{UI_PREFIX}/spec/plan",
    f"{UI_PREFIX}/spec/apply",
)
