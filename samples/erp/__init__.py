"""Legacy ERP sample app: HTML UI behind a cookie session with CSRF, JSON/XHR API, fault knobs."""

from samples.erp.app import ErpServer, Faults, make_server

__all__ = ["ErpServer", "Faults", "make_server"]
