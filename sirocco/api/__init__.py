"""Mistral's REST API v2 served over FastAPI: ``sirocco.api.app.create_app(service)``."""
