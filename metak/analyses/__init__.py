"""Registered analyses asked for by the spec's existing keys (contract sections 2 and 5).

Each module is one :class:`metak.kinds.AnalysisKind`: ``run(ctx, params) -> record`` (a frozen
record with ``to_dict()``), ``default(meta)`` (whether the meta-analysis mapping's keys ask for it)
and, where the methods text has a sentence for it, ``methods_sentence(result_dict, cite)``.

- :mod:`.meta_regression`: ``moderators:`` (and ``permutations:``) -> ``meta_regression``
- :mod:`.subgroups`: ``subgroups:`` -> ``subgroups``
- :mod:`.dropout`: ``dropout:`` (and arms' dropouts beside an efficacy result) -> ``dropout_rates``
- :mod:`.bayes`: ``bayes:`` -> ``bayes``
- :mod:`.multivariate`: ``multi_arm: multivariate`` -> the pooled numbers and ``multivariate``

Their parameters are the spec keys that ask for them, declared as ``Param`` of the same name in
their registry entries (``moderators``, ``permutations``, ``subgroups``, ``bayes``) and checked by
the spec parser from those declarations (``metak.spec.blocks._asked``); ``run`` reads its
``params``. ``dropout`` and ``multi_arm`` decide the effect table's rows: they are table settings
(:class:`metak.spec.MetaSpec`) that also ask for ``dropout_rates`` and ``multivariate``. The
pipeline never names them.
"""
