"""The FastAPI host app example: ``uvicorn examples.fastapi_app.app:app``."""
