"""The expert review web app (``classifier review``): FastAPI routes in ``app``, the safety measures in
``security``, evidence highlighting in ``highlight``, the interface's words in ``texts``."""
