"""Storefront sample app: JSON REST API with bearer auth and ``Idempotency-Key`` support."""

from samples.storefront.app import StorefrontServer, make_server

__all__ = ["StorefrontServer", "make_server"]
