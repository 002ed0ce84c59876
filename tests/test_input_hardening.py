"""Bad input never escapes as a Python exception: every YAML reader (trial records, analysis
specs, simulation specs, ``batch --bayes``, spec folders) turns it into ``file:line: message``.

Findings F3, F5, F18, F19, F20, F21 and F24 of the 2026-12 reliability probe, plus binary arm
data written with the wrong keys, and a Hypothesis fuzz test of the record and spec readers.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metak.cli import main
from metak.errors import InvalidSpec, MetakError, Problem
from metak.records import load_trial
from metak.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
DAKWAR = (ROOT / "trials" / "dakwar2019.yaml").read_text()
DAKWAR_LINES = DAKWAR.splitlines()


def line_of(text: str, prefix: str) -> int:
    """1-based line of the first line of ``text`` that starts with ``prefix``."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            return i
    raise AssertionError(prefix)


def record(tmp_path: Path, text: str, name: str = "dakwar2019.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def problems_of(path: Path) -> list[Problem]:
    trial, problems, _ = load_trial(path, str(path))
    return problems


def cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def spec_text(trials: str, body: str = "", title: str = '"t"') -> str:
    return (f"metak: 1\ntitle: {title}\ntrials: {trials}\nmeta_analyses:\n"
            + (body or "  - id: d\n    dropout: true\n    measure: RR\n"))


# ------------------------------------------------------------------ F3: the YAML reader ----
CONDITION = line_of(DAKWAR, "condition:")
TITLE = line_of(DAKWAR, "title:")
TOTAL = line_of(DAKWAR, "randomized_total:")
NOTES = line_of(DAKWAR, "notes:")

F3_CASES = [
    # (old, new, line, fragment of the message)
    ("condition: cocaine dependence", "condition: cocaine\x07dependence", CONDITION, "U+0007"),
    ("condition: cocaine dependence", "condition: \x1b[31mcocaine dependence", CONDITION, "U+001B"),
    ("condition: cocaine dependence", "condition: cocaine\x00dependence", CONDITION, "U+0000"),
    ("condition: cocaine dependence", "condition: cocaine\x7fdependence", CONDITION, "U+007F"),
    ("condition: cocaine dependence", "condition: cocaine\x90dependence", CONDITION, "U+0090"),
    ("condition: cocaine dependence", "condition: cocaine\ufffedependence", CONDITION, "U+FFFE"),
    ('condition: cocaine dependence', 'condition: "cocaine\\x07dependence"', CONDITION, "U+0007"),
    (DAKWAR_LINES[TITLE - 1], "title: 2020-02-30", TITLE, "not a valid date"),
    (DAKWAR_LINES[TITLE - 1], "title: 2020-13-01", TITLE, "not a valid date"),
    (DAKWAR_LINES[TITLE - 1], "title: 2020-01-01 25:00:00", TITLE, "not a valid date"),
    ("randomized_total: 55", "randomized_total: !!int abc", TOTAL, "!!int"),
    ("randomized_total: 55", "randomized_total: !!float abc", TOTAL, "!!float"),
    ("randomized_total: 55", "randomized_total: !!bool maybe", TOTAL, "!!bool"),
    ("randomized_total: 55", "randomized_total: !!timestamp abc", TOTAL, "!!timestamp"),
    ("randomized_total: 55", "randomized_total: " + "9" * 5000, TOTAL, "5000 digits"),
    ("randomized_total: 55", "randomized_total: -" + "9" * 5000, TOTAL, "5000 digits"),
    ("notes: >-", "notes: " + "[" * 3000 + "]" * 3000 + "\nnotes2: >-", NOTES, "nested"),
    # block style: refused at the first line nested too deep
    ("notes: >-", "notes:\n" + "".join("  " * i + "- \n" for i in range(1, 400)) + "notes2: >-", NOTES + 50, "nested"),
]


@pytest.mark.parametrize("old,new,line,fragment", F3_CASES)
def test_f3_trial_reader_gives_file_and_line(tmp_path, old, new, line, fragment):
    path = record(tmp_path, DAKWAR.replace(old, new, 1))
    problems = problems_of(path)
    assert problems, "accepted"
    assert problems[0].line == line and fragment in problems[0].message, problems
    r = cli("validate", path)
    assert r.exit_code == 1
    assert f"{path}:{line}:" in r.output


def test_f3_control_character_names_its_column(tmp_path):
    path = record(tmp_path, DAKWAR.replace("condition: cocaine dependence", "condition: cocaine\x07dependence"))
    (p,) = problems_of(path)
    assert p.line == CONDITION and "column 19" in p.message and "U+0007" in p.message


@pytest.mark.parametrize("title", ["2020-02-30", '"bell \\a here"', "!!int abc", "9" * 5000, "caf\x1b[0m"])
def test_f3_analysis_spec_via_cli(tmp_path, title):
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text(str(ROOT / "trials"), title=title))
    out = tmp_path / "out"
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 1 and f"{spec}:2:" in r.output, r.output
    assert not out.exists()


@pytest.mark.parametrize("old,new", [
    ("simulation: inthout2014", "simulation: inthout\x072014"),
    ("simulation: inthout2014", "simulation: 2020-02-30"),
    ("seed: 20140225", "seed: !!int abc"),
    ("seed: 20140225", "seed: " + "1" * 5000),
])
def test_f3_simulation_spec_via_cli(tmp_path, old, new):
    text = (ROOT / "analyses" / "simulations" / "inthout2014.yaml").read_text()
    line = line_of(text, old)
    spec = tmp_path / "sim.yaml"
    spec.write_text(text.replace(old, new))
    out = tmp_path / "out"
    r = cli("simulate", spec, "--out", out)
    assert r.exit_code == 1 and f"{spec}:{line}:" in r.output, r.output
    assert not out.exists()


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("meta_id,yi,vi\na,0.1,0.04\na,0.3,0.05\na,0.2,0.02\n")
    return path


@pytest.mark.parametrize("opt", ["{seed: 2020-02-30}", "{seed: !!int abc}", "{seed: \x07}",
                                 "{seed: " + "9" * 5000 + "}", "{seed: !!python/object/apply:os.system [true]}",
                                 "[" * 3000])
def test_f3_batch_bayes_option(table, tmp_path, opt):
    out = tmp_path / "out"
    r = cli("batch", table, "--out", out, "--bayes", opt)
    assert r.exit_code == 1 and "--bayes" in r.output, r.output
    assert not out.exists()


def test_f3_one_bad_spec_in_a_batch_folder_does_not_stop_the_others(tmp_path):
    from metak.scale.batch import run_batch

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "a.yaml").write_text(spec_text(str(ROOT / "trials")))
    (folder / "b.yaml").write_text(spec_text("x", title="2020-02-30"))
    (folder / "c.yaml").write_text(spec_text("x", title="\"bell \x07\""))
    t = run_batch(folder)
    rows = dict(zip(t["meta_id"], t["error"]))
    assert rows["a/d"] == ""
    assert "b.yaml:2:" in rows["b"] and "not a valid date" in rows["b"]
    assert "c.yaml:2:" in rows["c"] and "U+0007" in rows["c"]
    out = tmp_path / "out"
    r = cli("batch", folder, "--out", out)
    assert r.exit_code == 0 and "1 fitted, 2 failed" in r.output


# ------------------------------------------------------------- F5: lone surrogates ---------
def test_f5_lone_surrogate_in_a_spec_title_is_refused_at_its_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text(str(ROOT / "trials"), title='"Dropout \\ud800"'))
    with pytest.raises(InvalidSpec) as exc:
        load_spec(spec)
    (p,) = exc.value.problems
    assert p.line == 2 and "surrogate" in p.message and "U+D800" in p.message
    out = tmp_path / "out"
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 1 and f"{spec}:2:" in r.output and not out.exists()


def test_f5_lone_surrogate_in_a_record_and_a_valid_pair(tmp_path):
    old = DAKWAR_LINES[TITLE - 1]
    (p,) = problems_of(record(tmp_path, DAKWAR.replace(old, 'title: "x \\udc00 y"')))
    assert p.line == TITLE and "surrogate" in p.message
    # a surrogate pair written as two escapes (as JSON does) is the one character it encodes
    trial, problems, _ = load_trial(record(tmp_path, DAKWAR.replace(old, 'title: "smile \\ud83d\\ude00"')))
    assert not problems and trial.title == "smile \U0001F600"


# ------------------------------------------------------------ F18: YAML 1.1 numbers --------
def test_f18_leading_zero_is_refused_with_what_to_write(tmp_path):
    path = record(tmp_path, DAKWAR.replace("{events: 13, total: 27}", "{events: 013, total: 27}"))
    (p,) = problems_of(path)
    assert p.line == line_of(DAKWAR, "      ketamine:  {events: 13")
    assert "'013'" in p.message and "leading zero" in p.message and "write 13" in p.message
    r = cli("validate", path)
    assert r.exit_code == 1 and f"{path}:{p.line}:" in r.output


def test_f18_base_60_is_text_not_a_number(tmp_path):
    path = record(tmp_path, DAKWAR.replace("randomized_total: 55", "randomized_total: 1:55"))
    (p,) = problems_of(path)
    assert p.line == TOTAL and "'1:55'" in p.message and "115" not in p.message
    path = record(tmp_path, DAKWAR.replace("{events: 13, total: 27}", "{events: 1:13, total: 27}"))
    (p,) = problems_of(path)
    assert "'1:13'" in p.message and "73" not in p.message
    # where text is wanted, a time such as 1:30 is the text written
    old = '    timepoint: "6 months"'
    trial, problems, _ = load_trial(record(tmp_path, DAKWAR.replace(old, "    timepoint: 1:30")))
    assert not problems and trial.outcome("abstinence_6m").timepoint == "1:30"


def test_f18_other_integer_forms(tmp_path):
    for written, value in (("0", 0), ("+55", 55), ("0x37", 55), ("0o67", 55)):
        trial, problems, _ = load_trial(record(tmp_path, DAKWAR.replace("randomized_total: 55",
                                                                        f"randomized_total: {written}")))
        if value >= 1:
            assert not problems and trial.randomized_total == value, (written, problems)
        else:
            assert problems and problems[0].line == TOTAL
    (p,) = problems_of(record(tmp_path, DAKWAR.replace("randomized_total: 55", "randomized_total: 055")))
    assert "leading zero" in p.message and "write 55" in p.message
    # quoted, a leading zero is text
    trial, problems, _ = load_trial(record(tmp_path, DAKWAR.replace('pmid: "31230464"', "pmid: '031230464'")))
    assert not problems and trial.citation.pmid == "031230464"


# --------------------------------------------------------- F19: no quadratic validation ----
def _perf_record(arms: int, unknown: int) -> str:
    a = "".join(f"  - {{id: a{i}, label: x, role: control, intervention: x}}\n" for i in range(arms))
    d = "".join(f"      b{i}: {{events: 1, total: 2}}\n" for i in range(unknown))
    return ("metak: 1\nid: perf\ntitle: t\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: e, label: x, role: experimental, intervention: x}\n" + a
            + "outcomes:\n  - id: o\n    label: o\n    type: binary\n    direction: higher_is_better\n"
              "    source: {where: x}\n    data:\n" + d)


def test_f19_many_arms_and_unknown_keys_validate_in_linear_time_and_output(tmp_path):
    path = record(tmp_path, _perf_record(3000, 3000), "perf.yaml")
    t0 = time.perf_counter()
    problems = problems_of(path)
    took = time.perf_counter() - t0
    assert len(problems) == 3000
    assert all(len(p.message) < 400 for p in problems), max(len(p.message) for p in problems)
    assert "3001 arms" in problems[0].message or "more" in problems[0].message
    assert took < 15, took  # about 0.3 s; 14.7 s before (quadratic)


def test_f19_small_lists_keep_their_hint_and_full_listing(tmp_path):
    path = record(tmp_path, DAKWAR.replace("      ketamine:  {events: 13", "      ketamin:  {events: 13"))
    (p,) = problems_of(path)
    assert "did you mean 'ketamine'" in p.message and "arms are: ketamine, midazolam" in p.message


# -------------------------------------------------------------- F20: silent specs ----------
ABSTINENCE = """  - id: abstinence
    outcome: {outcome}
    measure: OR
    fallback_outcomes:
      - {{outcome: relapse_6m, complement: true}}
    select:
      condition: [cocaine dependence, heroin dependence, alcohol dependence, alcohol use disorder]
"""


def test_f20_outcome_typo_with_fallbacks_is_a_spec_error(tmp_path):
    spec = tmp_path / "typo.yaml"
    spec.write_text(spec_text(str(ROOT / "trials"), ABSTINENCE.format(outcome="abstinance")))
    out = tmp_path / "out"
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 1, r.output
    assert f"{spec}:6:" in r.output
    assert "no selected trial has outcome 'abstinance' (did you mean 'abstinence'?)" in r.output
    assert not out.exists()
    spec.write_text(spec_text(str(ROOT / "trials"), ABSTINENCE.format(outcome="abstinence")))
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 0, r.output
    # an outcome some loaded trial has, with the selected trials giving only a fallback, is fine
    spec.write_text(spec_text(str(ROOT / "trials"), ABSTINENCE.format(outcome="abstinence")).replace(
        "select:\n      condition: [cocaine dependence, heroin dependence, alcohol dependence, alcohol use disorder]",
        "select: {trials: [grabski2022]}"))
    r = cli("analyze", spec, "--no-figures", "--json", "--out", tmp_path / "out2")
    assert r.exit_code == 0 and '"k": 1' in r.output, r.output


@pytest.mark.parametrize("trials", ["[]", '""'])
def test_f20_no_trials_is_a_spec_error_at_its_line(tmp_path, trials):
    spec = tmp_path / "empty.yaml"
    spec.write_text(spec_text(trials))
    with pytest.raises(InvalidSpec) as exc:
        load_spec(spec)
    (p,) = exc.value.problems
    assert p.line == 3 and p.path.startswith("trials")
    out = tmp_path / "out"
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 1 and f"{spec}:3: trials" in r.output and not out.exists()


# ----------------------------------------------------- F21: other files are not echoed -----
SHADOW = ("root:$6$salt$hashhashhash:19000:0:99999:7:::\n"
          "avahi:!:20794::::::\n"
          "secretuser:$6$other$SECRETHASH:20794::::::\n"
          "secretuser:$6$other$SECRETHASH:20794::::::\n")


@pytest.mark.parametrize("content", [
    SHADOW,
    SHADOW.replace("secretuser:$6$other$SECRETHASH:20794::::::\n", "", 1),
    "password: SECRETHASH\ntoken: secretuser\n",
    "- secretuser\n- SECRETHASH\n",
    "SECRETHASH secretuser\n",
])
def test_f21_a_file_that_is_not_a_record_is_named_not_echoed(tmp_path, content):
    secret = tmp_path / "shadow"
    secret.write_text(content)
    spec = tmp_path / "sh.yaml"
    spec.write_text(spec_text(f"[{ROOT / 'trials'}, {secret}]"))
    out = tmp_path / "out"
    r = cli("analyze", spec, "--no-figures", "--out", out)
    assert r.exit_code == 1 and not out.exists()
    for word in ("SECRETHASH", "secretuser", "avahi", "password", "token", "hash"):
        assert word not in r.output, r.output
    lines = [x for x in r.output.splitlines() if str(secret) in x]
    assert len(lines) == 1, r.output
    assert any(m in lines[0] for m in ("not a metak trial record", "must be a mapping", "duplicate key (first at"))


def test_f21_a_record_with_unknown_keys_still_lists_them(tmp_path):
    problems = problems_of(record(tmp_path, DAKWAR.replace("condition: cocaine", "conditon: cocaine")))
    assert any(p.path == "conditon" and "did you mean 'condition'" in p.message for p in problems), problems


def test_f21_a_non_spec_given_to_analyze_is_named_not_echoed(tmp_path):
    secret = tmp_path / "shadow.yaml"
    secret.write_text(SHADOW.replace("secretuser:$6$other$SECRETHASH:20794::::::\n", "", 1))
    r = cli("analyze", secret, "--no-figures", "--out", tmp_path / "out")
    assert r.exit_code == 1 and "SECRETHASH" not in r.output and "not a metak analysis spec" in r.output


# ----------------------------------------------------- F24: non-standard tags --------------
@pytest.mark.parametrize("old,new,line,tag", [
    ("metak: 1\n", "--- !!python/object:collections.OrderedDict\nmetak: 1\n", 1, "!!python/object:collections.OrderedDict"),
    (DAKWAR_LINES[TITLE - 1] + "\n", 'title: !!python/object/apply:os.system ["touch /tmp/PWNED"]\n', TITLE,
     "!!python/object/apply:os.system"),
    (DAKWAR_LINES[TITLE - 1] + "\n", "title: !!python/name:os.system\n", TITLE, "!!python/name:os.system"),
    (DAKWAR_LINES[TITLE - 1] + "\n", "title: !custom x\n", TITLE, "!custom"),
    (DAKWAR_LINES[TITLE - 1] + "\n", "title: !!binary aGVsbG8=\n", TITLE, "!!binary"),
    ("blinding:\n", "blinding: !!set\n", line_of(DAKWAR, "blinding:"), "!!set"),
    ("arms:\n", "arms: !!omap\n", line_of(DAKWAR, "arms:"), "!!omap"),
    ("arms:\n", "arms: !<tag:example.com,2000:app/arms>\n", line_of(DAKWAR, "arms:"), "tag:example.com,2000:app/arms"),
])
def test_f24_non_standard_tags_are_refused_at_their_line(tmp_path, old, new, line, tag):
    assert old in DAKWAR
    path = record(tmp_path, DAKWAR.replace(old, new, 1))
    problems = problems_of(path)
    assert problems and problems[0].line == line and tag in problems[0].message, problems
    assert not Path("/tmp/PWNED").exists()


def test_f24_standard_tags_still_work(tmp_path):
    trial, problems, _ = load_trial(record(tmp_path, DAKWAR.replace(
        "randomized_total: 55", "randomized_total: !!int 55").replace('pmid: "31230464"', "pmid: !!str 31230464")))
    assert not problems and trial.randomized_total == 55 and trial.citation.pmid == "31230464"


# ------------------------------------------------- binary arm data with the wrong keys -----
def test_binary_data_with_wrong_keys_names_them_with_a_hint(tmp_path):
    path = record(tmp_path, DAKWAR.replace("ketamine:  {events: 13, total: 27}", "ketamine:  {event: 13, n: 27}"))
    problems = problems_of(path)
    by_path = {p.path: p.message for p in problems}
    assert "did you mean 'events'" in by_path["outcomes[0].data.ketamine.event"]
    assert "did you mean 'total'" in by_path["outcomes[0].data.ketamine.n"]
    assert not any("continuous data" in p.message for p in problems), problems
    # plain continuous data under a binary outcome still says so
    path = record(tmp_path, DAKWAR.replace("ketamine:  {events: 13, total: 27}", "ketamine:  {mean: 1, sd: 2, n: 27}"))
    assert any("continuous data (mean/sd/n) given for a binary outcome" in p.message for p in problems_of(path))


# ------------------------------------------------------------------ fuzzing ---------------
NASTY = st.sampled_from([
    "\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\x9b", "\ufffe", "\uffff", "\t", "\r", "\ufeff", "\u2028",
    "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ", "!!omap ", "!!python/object:os.system ",
    "!!python/object/apply:os.system ", "!foo ", "!<tag:x> ", "! ", "!!str ", "!!null ", "!!map ", "!!seq ",
    "2020-02-30", "2020-13-01", "2020-01-01 25:00:00", "1:55", "010", "0o8", "0x", "0b2", "1_0", ".nan", ".inf",
    "9" * 5000, "-" + "9" * 4400, "1e99999", "[" * 2000, "{" * 2000, "- " * 500, '"\\ud800"', '"\\udc00\\ud800"',
    '"\\x07"', '"\\U0010FFFF"', "&a ", "*a", "<<: ", "? ", ": ", "---\n", "...\n", "%YAML 1.1\n", "|\n", ">-\n",
    "\n  ", "#", "'", '"', "@", "`", "\\",
])
CHUNK = st.one_of(NASTY, st.text(max_size=6), st.text(st.characters(max_codepoint=0x9f), max_size=4))
EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), CHUNK), min_size=1, max_size=4)


def _apply(text: str, edits) -> str:
    for where, cut, chunk in edits:
        i = int(where * len(text))
        text = text[:i] + chunk + text[i + cut:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(edits=EDITS)
def test_fuzz_trial_reader_returns_or_raises_metak_errors(tmp_path, edits):
    path = record(tmp_path, _apply(DAKWAR, edits), "fuzz.yaml")
    try:
        trial, problems, warnings = load_trial(path, "fuzz.yaml")
    except MetakError:
        return
    for p in problems:
        assert isinstance(p, Problem) and p.file == "fuzz.yaml" and (p.line is None or isinstance(p.line, int))
        str(p).encode("utf-8")  # printable


SPEC = (ROOT / "analyses" / "dropout.yaml").read_text().replace("trials: ../trials", f"trials: {ROOT / 'trials'}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(edits=EDITS)
def test_fuzz_spec_reader_returns_or_raises_metak_errors(tmp_path, edits):
    path = record(tmp_path, _apply(SPEC, edits), "fuzz_spec.yaml")
    try:
        load_spec(path, "fuzz_spec.yaml")
    except MetakError as exc:
        for p in getattr(exc, "problems", []):
            assert isinstance(p, Problem) and (p.line is None or isinstance(p.line, int))
            str(p).encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(edits=EDITS)
def test_fuzz_batch_bayes_option_returns_or_raises_metak_errors(edits):
    from metak.scale.batch_bayes import parse_bayes_option

    text = _apply("{prior: {tau: {dist: half_normal, sigma: 0.5}}, seed: 1}", edits)
    try:
        parse_bayes_option(text, "OR")
    except MetakError as exc:
        assert re.match("--bayes", str(exc)), str(exc)


# ------------------------------------------- libyaml parser == PyYAML's pure-Python one ----
def test_fast_and_pure_python_parsers_agree_on_the_bundled_files():
    from metak.records import yamlload

    files = sorted(ROOT.glob("trials/*.yaml")) + sorted(ROOT.glob("analyses/**/*.yaml"))
    assert len(files) > 10
    for f in files:
        text = f.read_text()
        assert yamlload._parse(text, f.name, fast=True) == yamlload._parse(text, f.name, fast=False), f


@settings(max_examples=150, deadline=None)
@given(edits=EDITS)
def test_fast_and_pure_python_parsers_agree_on_mutations(edits):
    """Same values, lines and problems; where libyaml finds a syntax error the file is read
    again by PyYAML, so messages are PyYAML's."""
    from metak.records import yamlload

    text = _apply(DAKWAR, edits)
    fast = yamlload._parse(text, "f.yaml", fast=True)
    slow = yamlload._parse(text, "f.yaml", fast=False)
    if not fast[2] and not slow[2]:
        assert fast == slow
    elif fast[2] and slow[2]:
        assert fast == slow
    else:  # libyaml and PyYAML disagree on what is valid YAML: each answer is still clean
        assert all(isinstance(p, Problem) for p in fast[2] + slow[2])


def test_an_explicit_float_tag_with_no_text_is_a_problem_not_an_index_error():
    """PyYAML's float constructor indexes the first character of an explicit ``!!float ''``
    (found by the batch --bayes fuzz test)."""
    from metak.records.yamlload import loads_value

    value, problems = loads_value("prior: !!float ''", "--bayes")
    assert value is None and len(problems) == 1
    assert problems[0].path == "prior" and "not a valid !!float value" in problems[0].message
