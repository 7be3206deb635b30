"""JSON bodies in GitHub's REST shapes, complete per GitHub's OpenAPI description.

Each function turns state records into one schema (named after the OpenAPI component it
produces, e.g. ``full_repository``); routes never build bodies by hand.
"""
