"""The national node's HTTP API (FastAPI): ``itptrace.api.app.create_app``."""
