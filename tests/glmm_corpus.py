"""Test helper: 2x2 tables as trial records and a spec with a ``glmm:`` model (the GLMM tests'
one way to go through ``metak analyze``)."""

from __future__ import annotations


def write_tables(root, inputs, rows=None, *, method="ML", glmm="UM.FS", extra=""):
    """Rows ``rows`` (default: all) of an escalc-style table ``inputs`` (ai, n1i, ci, n2i) as
    trial records t01, t02 ... (numbered by row) under ``root/trials``, and the spec
    ``root/s.yaml`` pooling them as an OR with ``glmm: <glmm>``; returns the spec's path."""
    (root / "trials").mkdir(exist_ok=True)
    for i in range(len(inputs["ai"])) if rows is None else rows:
        a, n1, c, n2 = inputs["ai"][i], inputs["n1i"][i], inputs["ci"][i], inputs["n2i"][i]
        (root / "trials" / f"t{i + 1:02d}.yaml").write_text(
            f"metak: 1\nid: t{i + 1:02d}\ntitle: t{i + 1}\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: e, label: e, role: experimental, intervention: drug}\n"
            "  - {id: c, label: control, role: control, intervention: placebo, control_type: placebo}\n"
            "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: lower_is_better\n    data:\n"
            f"      e: {{events: {a}, total: {n1}}}\n      c: {{events: {c}, total: {n2}}}\n"
            "    source: {where: synthetic}\n")
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    f"    method: {method}\n    test: z\n    glmm: {glmm}\n{extra}")
    return spec


def analyze_with_methods(spec):
    """The first meta-analysis of ``metak analyze`` on ``spec`` and its methods paragraph."""
    from metak.methods import methods_text
    from metak.pipeline import analyze

    doc = analyze(spec)
    return doc["meta_analyses"][0], " ".join(methods_text(doc)[0])
