"""Tests of ``classifier.review``, the expert review web app: one module per router, the route-table
security suite, the browser test; ``conftest.py`` holds the one set of databases, apps and clients."""
