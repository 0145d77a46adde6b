"""A page slow by construction, for the tests of the page time limit.

Extracting any page of this host sleeps ten minutes (``classifier.common.faults.slow_point``), in the
test process and in every worker it starts later: ``conftest.py`` sets ``SLOW_PAGES`` in the
environment before any test runs. No real page is on a ``.invalid`` host.
"""

SLOW_HOST = "slow-page.invalid"
SLOW_SECONDS = 600
SLOW_PAGES = f"extract.page@{SLOW_HOST}={SLOW_SECONDS}"
