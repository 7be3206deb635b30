"""The API's path prefix, in its own module so route modules and the app agree on it.

Routers carry the prefix themselves (instead of being included under a prefix) so that a
matched route's template is the full path, which is what metrics and logs label requests by.
"""

API_PREFIX = "/api/v1"
