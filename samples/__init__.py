"""Sample web apps (a legacy ERP and a JSON storefront) served on 127.0.0.1 for tests and demos."""
