"""Transitional alias of :mod:`analytics.report.io`, where CSV reading and writing now live.

Kept only so ``bot/services/export.py`` keeps working until its import names
``analytics.report.io``; then delete this module. New code imports
:mod:`analytics.report.io`.
"""

from analytics.report.io import *  # noqa: F403
from analytics.report.io import __all__ as __all__
