"""Trial-record validation: every rule, with a real broken file, naming file, key path and line."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metak.errors import InvalidRecord
from metak.records import load_trials, validate_paths
from metak.records.model import Trial

VALID = textwrap.dedent("""\
    metak: 1
    id: trial_a
    title: "A test trial"
    citation:
      authors: [Doe J, Roe R]
      year: 2024
    condition: cocaine use disorder
    design: parallel
    randomized_total: 55
    blinding:
      masking: double
      guesses:
        - arm: ket
          assessor: participant
          guessed_experimental: 20
          guessed_control: 3
          dont_know: 4
        - arm: mid
          assessor: participant
          guessed_experimental: 6
          guessed_control: 15
          dont_know: 7
    arms:
      - id: ket
        label: "Ketamine"
        role: experimental
        intervention: ketamine
        dose: {value: 0.5, unit: mg/kg}
        randomized: 27
        completed: 23
      - id: mid
        label: "Midazolam"
        role: control
        control_type: active_placebo
        intervention: midazolam
        randomized: 28
        completed: 21
    outcomes:
      - id: abstinence
        label: "Abstinence"
        type: binary
        direction: higher_is_better
        data:
          ket: {events: 13, total: 27}
          mid: {events: 3, total: 28}
        source:
          where: "Table 2"
      - id: craving
        label: "Craving"
        type: continuous
        direction: lower_is_better
        data:
          ket: {mean: 12.7, sd: 7.6, n: 20}
          mid: {mean: 16.4, sd: 10.0, n: 19}
        source: {where: "Table 3", derived: true, note: "SD from the SE"}
      - id: adjusted
        label: "Adjusted OR"
        type: contrast
        direction: higher_is_better
        data: {measure: OR, experimental: ket, control: mid, estimate: 5.7, ci: [1.3, 25.1]}
        source: {where: "Abstract"}
    """)


def write(tmp_path, text, name="trial_a.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def problems_of(path):
    _, problems, _ = validate_paths([path])
    return problems


def test_valid_record_loads(tmp_path):
    (trial,) = load_trials([write(tmp_path, VALID)])
    assert isinstance(trial, Trial)
    assert trial.label == "Doe 2024"
    assert trial.arm("ket").dropouts == 4
    assert trial.outcome("abstinence").data["ket"].events == 13
    assert trial.outcome("adjusted").data.ci == (1.3, 25.1)
    assert trial.blinding.guesses[1].total == 28
    with pytest.raises(Exception):
        trial.id = "x"  # frozen


# (old text, new text, key path expected in the message, message fragment)
CASES = [
    ("events: 13, total: 27", "events: 30, total: 27", "outcomes[0].data.ket.events", "30 is more than total 27"),
    ("events: 3, total: 28", "events: -1, total: 28", "outcomes[0].data.mid.events", "must not be negative"),
    ("events: 3, total: 28", "events: 2.5, total: 28", "outcomes[0].data.mid.events", "whole number"),
    ("events: 3, total: 28", "events: three, total: 28", "outcomes[0].data.mid.events", "whole number"),
    ("events: 3, total: 28", "events: .nan, total: 28", "outcomes[0].data.mid.events", "NaN"),
    ("events: 3, total: 28", "events: .inf, total: 28", "outcomes[0].data.mid.events", "whole number"),
    ("events: 3, total: 28", "events: 3, total: 0", "outcomes[0].data.mid.total", "at least 1"),
    ("sd: 7.6, n: 20", "sd: 0, n: 20", "outcomes[1].data.ket.sd", "greater than 0"),
    ("sd: 7.6, n: 20", "sd: -2, n: 20", "outcomes[1].data.ket.sd", "greater than 0"),
    ("sd: 7.6, n: 20", "sd: 7.6, n: 0", "outcomes[1].data.ket.n", "at least 1"),
    ("sd: 7.6, n: 20", "sd: 7.6, n: -3", "outcomes[1].data.ket.n", "at least 1"),
    ("mean: 12.7, sd", "mean: .nan, sd", "outcomes[1].data.ket.mean", "finite"),
    ("completed: 23", "completed: 30", "arms[0].completed", "30 is more than randomized 27"),
    ("randomized_total: 55", "randomized_total: 50", "randomized_total", "sum to 55, more than randomized_total 50"),
    ("guessed_experimental: 20", "guessed_experimental: 40", "blinding.guesses[0]", "more than the 27 randomized"),
    ("  - arm: mid\n", "  - arm: placebo\n", "blinding.guesses[1].arm", "unknown arm 'placebo'"),
    ("      ket: {events: 13", "      kett: {events: 13", "outcomes[0].data.kett", "unknown arm 'kett' (did you mean 'ket'?)"),
    ("  - id: mid\n", "  - id: ket\n", "arms[1].id", "duplicate arm id 'ket'"),
    ("  - id: craving", "  - id: abstinence", "outcomes[1].id", "duplicate outcome id 'abstinence'"),
    ("ci: [1.3, 25.1]", "ci: [6.3, 25.1]", "outcomes[2].data.ci", "does not contain the estimate 5.7"),
    ("ci: [1.3, 25.1]", "ci: [25.1, 1.3]", "outcomes[2].data.ci", "not below"),
    ("estimate: 5.7", "estimate: -5.7", "outcomes[2].data.estimate", "greater than 0"),
    ("control: mid, estimate", "control: pbo, estimate", "outcomes[2].data.control", "unknown arm 'pbo'"),
    ("condition: cocaine", "conditon: cocaine", "conditon", "did you mean 'condition'?"),
    ("    intervention: ketamine", "    intervension: ketamine", "arms[0].intervension", "did you mean 'intervention'?"),
    ("id: trial_a", "id: Trial A", "id", "not a valid id"),
    ("design: parallel", "design: paralel", "design", "did you mean 'parallel'?"),
    ("masking: double", "masking: dubble", "blinding.masking", "did you mean 'double'?"),
    ("role: experimental", "role: active", "arms[0].role", "not one of"),
    ("control_type: active_placebo", "control_type: saline", "arms[1].control_type", "not one of"),
    ("    role: experimental\n", "    role: experimental\n    control_type: placebo\n", "arms[0].control_type", "only control arms"),
    ("type: binary", "type: binray", "outcomes[0].type", "did you mean 'binary'?"),
    ("direction: higher_is_better\n    data:\n      ket: {events",
     "direction: up\n    data:\n      ket: {events", "outcomes[0].direction", "not one of"),
    ("ket: {mean: 12.7, sd: 7.6, n: 20}", "ket: {events: 3, total: 20}", "outcomes[1].data.ket", "binary data (events/total) given for a continuous outcome"),
    ("ket: {events: 13, total: 27}", "ket: {mean: 1.0, sd: 1.0, n: 27}", "outcomes[0].data.ket", "continuous data (mean/sd/n) given for a binary outcome"),
    ("metak: 1", "metak: 2", "metak", "schema version 2 is not supported"),
    ("      where: \"Table 2\"", "      wher: \"Table 2\"", "outcomes[0].source.wher", "did you mean 'where'?"),
    ("source: {where: \"Table 3\", derived: true, note: \"SD from the SE\"}", "source: {where: \"Table 3\", derived: true}",
     "outcomes[1].source", "needs a 'note'"),
    ("randomized: 27", "randomized: 27.0", "arms[0].randomized", "whole number"),
    ("randomized: 27", "randomized: true", "arms[0].randomized", "whole number, got true"),
    ("events: 13, total: 27", "events: 13, total: 1000000000000", "outcomes[0].data.ket.total", "implausibly large"),
    ("mean: 12.7, sd: 7.6", "mean: 1.0e+300, sd: 7.6", "outcomes[1].data.ket.mean", "implausibly large"),
]


@pytest.mark.parametrize("old,new,keypath,fragment", CASES, ids=[c[3][:40] for c in CASES])
def test_rule_names_file_key_and_line(tmp_path, old, new, keypath, fragment):
    assert VALID.count(old) >= 1, old
    text = VALID.replace(old, new, 1)
    path = write(tmp_path, text)
    problems = problems_of(path)
    matching = [p for p in problems if p.path == keypath and fragment in p.message]
    assert matching, f"expected {keypath}: {fragment}; got {[str(p) for p in problems]}"
    p = matching[0]
    assert p.file == str(path)
    # the line is the one holding the changed text (or the key of the block it sits in)
    new_first_line = VALID[: VALID.index(old)].count("\n") + 1 + (old[0] == "\n")
    assert abs(p.line - new_first_line) <= 2, (p.line, new_first_line, str(p))
    assert str(p).startswith(f"{path}:{p.line}: {keypath}: ")


def test_every_problem_in_a_file_is_reported(tmp_path):
    text = (VALID.replace("events: 13, total: 27", "events: 30, total: 27")
            .replace("sd: 7.6, n: 20", "sd: 0, n: 20")
            .replace("design: parallel", "design: paralel"))
    problems = problems_of(write(tmp_path, text))
    paths = {p.path for p in problems}
    assert {"outcomes[0].data.ket.events", "outcomes[1].data.ket.sd", "design"} <= paths
    with pytest.raises(InvalidRecord) as exc:
        load_trials([write(tmp_path, text)])
    assert len(exc.value.problems) == len(problems)


@pytest.mark.parametrize("text,line,fragment", [
    ("", 1, "file is empty"),
    ("# only a comment\n", 1, "file is empty"),
    ("- a\n- b\n", 1, "must be a mapping"),
    ("just text\n", 1, "must be a mapping"),
    ("metak: 1\nid: [unclosed\n", 3, "YAML syntax error"),
    ("metak: 1\nid: a\nid: b\n", 3, "duplicate key 'id'"),
    ("metak: 1\na: &x [1, 2]\nb: *x\n", 2, "anchors"),
    ("a: 1\n---\nb: 2\n", 2, "more than one YAML document"),
])
def test_file_level_problems(tmp_path, text, line, fragment):
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1
    assert fragment in problems[0].message
    assert problems[0].line == line


def test_alias_bomb_is_refused_without_expanding(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20))
    problems = problems_of(write(tmp_path, bomb))
    assert problems and "not supported" in problems[0].message


def test_oversized_file_is_refused(tmp_path):
    p = write(tmp_path, "a: " + "x" * 1_100_000 + "\n")
    problems = problems_of(p)
    assert "refuses files over" in problems[0].message


def test_duplicate_trial_ids_across_a_folder(tmp_path):
    write(tmp_path, VALID, "trial_a.yaml")
    write(tmp_path, VALID, "trial_b.yaml")
    trials, problems, warnings = validate_paths([tmp_path])
    assert any("duplicate trial id 'trial_a'" in p.message and p.file.endswith("trial_b.yaml") for p in problems)
    assert any("does not match the file name" in w for w in warnings)


def test_crossover_arm_sizes_are_each_at_most_the_total(tmp_path):
    text = VALID.replace("design: parallel", "design: crossover").replace("randomized_total: 55", "randomized_total: 28")
    assert not problems_of(write(tmp_path, text))
    text = text.replace("randomized: 28", "randomized: 29").replace("completed: 21", "completed: 20")
    problems = problems_of(write(tmp_path, text))
    assert any(p.path == "arms[1].randomized" and "more than randomized_total 28" in p.message for p in problems)


def test_non_utf8_and_missing_files(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_bytes(b"\xff\xfe\x00a")
    assert "not UTF-8" in problems_of(p)[0].message
    _, problems, _ = validate_paths([tmp_path / "nope.yaml"])
    assert "no such file" in problems[0].message


# ---------------------------------------------------------------- property-based ---------
BASE = yaml.safe_load(VALID)


def _mutate(doc, path, value):
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(BASE))
weird = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-5, 50), max_size=3),
    st.dictionaries(st.sampled_from(["events", "total", "mean", "sd", "n", "x"]), st.integers(-3, 40), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.sampled_from(ALL_PATHS), weird), min_size=1, max_size=3))
def test_mutated_records_are_accepted_or_rejected_with_the_domain_error(tmp_path, mutations):
    import copy

    doc = copy.deepcopy(BASE)
    for path, value in mutations:
        try:
            _mutate(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    text = yaml.safe_dump(doc, allow_unicode=True)
    path = write(tmp_path, text)
    try:
        trials = load_trials([path])
    except InvalidRecord as exc:
        assert exc.problems and all(Path(p.file).resolve() == path.resolve() for p in exc.problems)
        assert all(isinstance(p.line, int) for p in exc.problems)
    else:
        assert len(trials) == 1
        for o in trials[0].outcomes:  # what is accepted is sane
            if o.type == "binary":
                assert all(0 <= d.events <= d.total for d in o.data.values())
            if o.type == "continuous":
                assert all(d.sd > 0 and d.n >= 1 and math.isfinite(d.mean) for d in o.data.values())


def test_review_findings_stay_fixed(tmp_path):
    # a list where an arm id belongs must not crash the crossover size check
    text = VALID.replace("design: parallel", "design: crossover").replace("  - id: mid\n", "  - id: [mid]\n")
    assert any(p.path == "arms[1].id" for p in problems_of(write(tmp_path, text)))
    # an id with a trailing newline is not an id
    text = VALID.replace("id: trial_a", 'id: "trial_a\\n"')
    assert any(p.path == "id" and "not a valid id" in p.message for p in problems_of(write(tmp_path, text)))
    # analysed numbers are checked against randomized_total when arms give no sizes
    text = VALID
    for line in ("randomized: 27", "randomized: 28", "completed: 23", "completed: 21"):
        text = text.replace(f"\n    {line}", "")
    text = text.replace("randomized_total: 55", "randomized_total: 50")
    problems = problems_of(write(tmp_path, text))
    assert any(p.path == "outcomes[0].data" and "sum to 55, more than randomized_total 50" in p.message for p in problems)
