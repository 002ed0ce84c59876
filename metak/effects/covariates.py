"""A row's moderators: the trial's ``characteristics`` and the trial fields usable as
moderators and subgroups (:data:`TRIAL_FIELDS`), including the experimental arm's Bang
blinding index (:func:`metak.sensitivity.blinding_index.bang`)."""

from __future__ import annotations

from ..records.model import Outcome, Trial
from ..sensitivity import blinding_index


#: trial fields usable as moderators and subgroups beside the record's ``characteristics``
TRIAL_FIELDS = ("year", "design", "allocation", "masking", "condition", "control_type", "dose", "bang",
                "risk_of_bias")


def covariates(trial: Trial, experimental, control_type, outcome: Outcome | None = None) -> dict:
    """A row's moderators: the trial's characteristics, then its fields (TRIAL_FIELDS), with
    ``risk_of_bias`` the overall RoB 2 judgement of the outcome the row comes from."""
    out = dict(trial.characteristics)
    fields = {"year": trial.citation.year, "design": trial.design, "allocation": trial.allocation,
              "masking": trial.masking, "condition": trial.condition, "control_type": control_type}
    if outcome is not None and outcome.risk_of_bias is not None:
        fields["risk_of_bias"] = outcome.risk_of_bias.overall
    doses = {trial.arm(a).dose.value for a in experimental if trial.arm(a).dose is not None}
    if len(doses) == 1 and len(experimental) == 1:
        fields["dose"] = doses.pop()
    # the experimental arm's Bang index from participants' guesses (None when no one answered)
    guesses = [g for g in (trial.blinding.guesses if trial.blinding else ())
               if g.assessor == "participant" and len(experimental) == 1 and g.arm == experimental[0]]
    if len(guesses) == 1:
        g = guesses[0]
        fields["bang"] = blinding_index.bang(g.guessed_experimental, g.guessed_control, g.dont_know)["estimate"]
    for key, value in fields.items():
        if value is not None:
            out.setdefault(key, value)
    return out
