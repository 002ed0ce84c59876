"""Frequentist estimators: inverse-variance FE/RE (``fit``, ``fit_batch``) and MH/Peto (``fit_tables``)."""

from ..vocab import IV_METHODS, METHODS, RE_METHODS, TESTS  # noqa: F401
from .fit import check_settings, fit, fit_batch  # noqa: F401
from .result import BatchResult, CommonEffect, MetaResult  # noqa: F401
from .tables import fit_tables  # noqa: F401
