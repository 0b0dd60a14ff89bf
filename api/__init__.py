"""matcher's web API: a thin FastAPI layer over the library, with SQLAlchemy persistence.

Build the application with :func:`api.app.create_app`; nothing (engine, settings) is created at
import time.
"""
