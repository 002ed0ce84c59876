"""The per-replicate summaries of a simulation block that the batch engine's BatchResult does
not give: the exact posterior's (:mod:`metak.scale.simulate`) and the shared-bias estimators'
(:mod:`metak.sensitivity.shared_bias_sim`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summaries:
    """Each replicate's summaries, named as a BatchResult's columns: the exact posterior's, or
    the shared-bias estimators' (metak.sensitivity.shared_bias_sim)."""

    estimate: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    tau2: np.ndarray
