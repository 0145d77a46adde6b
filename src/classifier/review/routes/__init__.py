"""The app's pages, one ``APIRouter`` per part: logging in and out (``auth``), the queue (``queue``), a case
and its decision forms (``cases``), a shop and the decision on its undecided pages (``shops``), the
dashboard (``dashboard``), the admins' pages (``admin``).

Each router states who may use it in its ``dependencies`` (``review.dependencies``); ``app.create_app``
includes them all.
"""
