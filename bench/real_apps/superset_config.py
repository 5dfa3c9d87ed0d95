"""Superset configuration for a throwaway local instance: SQLite in the data dir, no examples."""

import os

DATA = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "zapi-bench-throwaway-not-a-secret"  # a local, throwaway instance on 127.0.0.1
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(DATA, "superset.db")
FAB_API_SWAGGER_UI = True
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False
PREVENT_UNSAFE_DB_CONNECTIONS = False
SQLLAB_CTAS_NO_LIMIT = True
FEATURE_FLAGS = {"ENABLE_TEMPLATE_PROCESSING": False}
