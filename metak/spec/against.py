"""A checked spec against the loaded trials: names a spec key gives (moderators, subgroups,
order) must be characteristics or trial fields of some trial, and a meta-analysis left with no
study must say why. Each problem is a spec error at its key's line, with a did-you-mean."""

from __future__ import annotations

from ..records.checker import did_you_mean
from .model import ORDERS, MetaSpec


def check_names(ms: MetaSpec, trials) -> None:
    """Moderator, subgroup and order names must be characteristics or trial fields of some
    loaded trial: a typo is a spec error with its line and a did-you-mean."""
    from ..effects.covariates import TRIAL_FIELDS

    known = set(TRIAL_FIELDS) | {name for t in trials for name, _ in t.characteristics}
    regression, subgroups = ms.analysis("meta_regression"), ms.analysis("subgroups")
    moderators = regression.kwargs.get("moderators") or () if regression is not None else ()
    asked = [(f"moderators[{j}]", m) for j, m in enumerate(moderators)]
    if subgroups is not None and subgroups.kwargs.get("subgroups") is not None:
        asked.append(("subgroups", subgroups.kwargs["subgroups"]))
    if ms.order not in ORDERS:
        asked.append(("order", ms.order))
    for key, name in asked:
        if name not in known:
            choices = sorted(known | (set(ORDERS) if key == "order" else set()))
            raise ms.error(key, f"'{name}' is not a characteristic or trial field of any loaded trial"
                                f"{did_you_mean(name, choices)}; known: {', '.join(choices)}")


def check_found(ms: MetaSpec, trials, table, kept, excluded) -> None:
    """After the table is built: an outcome no loaded trial has is a typo (it must not pass on
    fallbacks), and a meta-analysis left with no study says why (a dropout meta-analysis pools
    no named outcome, so neither applies)."""
    if ms.dropout:
        return
    if table.k and not any(t.outcome(ms.outcome) for t in trials):
        no_outcome(ms, kept)
    if not table.k:
        no_data(ms, kept, excluded)


def no_outcome(ms: MetaSpec, kept) -> None:
    """Called when no loaded trial has the spec's ``outcome``: with trials selected (``kept``) it
    is a typo, a spec error with a did-you-mean, whatever its fallback_outcomes find."""
    have = sorted({o.id for t in kept for o in t.outcomes})
    if kept:
        raise ms.error("outcome", f"no selected trial has outcome '{ms.outcome}'"
                                  f"{did_you_mean(ms.outcome, have)}; their outcomes: {', '.join(have) or 'none'}")


def no_data(ms: MetaSpec, kept, excluded) -> None:
    """A meta-analysis left with no study is a spec error: an outcome id no selected trial
    (``kept``) has (a typo, with a did-you-mean over their outcome ids), or a measure that
    fits none of their data (with each trial's reason)."""
    from ..effects.reasons import ReasonCode

    if not kept:
        return  # select: or exclude: left nothing; the excluded list says why
    names = [ms.outcome] + [f.outcome for f in ms.fallback_outcomes]
    have = sorted({o.id for t in kept for o in t.outcomes})
    if not any(t.outcome(n) for t in kept for n in names):
        raise ms.error("outcome", f"no selected trial has outcome '{ms.outcome}'"
                                  f"{did_you_mean(ms.outcome, have)}; their outcomes: {', '.join(have) or 'none'}")
    ids = {t.id for t in kept}
    mine = [e for e in excluded if e["trial"] in ids and e.get("reason_code") != ReasonCode.NO_OUTCOME]
    if not mine or not all(e.get("reason_code") == ReasonCode.MEASURE_MISMATCH for e in mine):
        return  # arms, zero cells ...: the excluded list says why, as for any k = 0 result
    reasons = "; ".join(f"{e['trial']}: {e['reason']}" for e in mine)
    raise ms.error("measure" if any(k == "measure" for k, _, _ in ms.where) else "outcome",
                   f"measure {ms.measure} fits none of the selected trials' data for outcome '{ms.outcome}' "
                   f"({reasons})")
