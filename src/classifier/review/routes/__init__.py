"""The app's pages, one ``APIRouter`` per part: logging in and out (``auth``), the queue (``queue``), a case
and its decision form (``cases``), the dashboard (``dashboard``), the admins' pages (``admin``).

Each router states who may use it in its ``dependencies`` (``review.dependencies``); ``app.create_app``
includes them all.
"""
