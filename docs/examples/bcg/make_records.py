"""Write the BCG vaccine trial records (docs/examples/bcg/trials/*.yaml) from dat.bcg.

The numbers are metadat's ``dat.bcg`` (Colditz GA et al. 1994, Efficacy of BCG vaccine in the
prevention of tuberculosis: meta-analysis of the published literature, JAMA 271:698-702,
Table 1), printed with ``Rscript -e 'library(metadat); write.csv(dat.bcg, stdout())'`` and
copied below unchanged. Run from the repository root: ``python docs/examples/bcg/make_records.py``.
"""

from pathlib import Path

# trial, author, year, tpos, tneg, cpos, cneg, ablat, alloc  (dat.bcg, metadat 1.2.0)
DAT_BCG = """\
1,Aronson,1948,4,119,11,128,44,random
2,Ferguson & Simes,1949,6,300,29,274,55,random
3,Rosenthal et al,1960,3,228,11,209,42,random
4,Hart & Sutherland,1977,62,13536,248,12619,52,random
5,Frimodt-Moller et al,1973,33,5036,47,5761,13,alternate
6,Stein & Aronson,1953,180,1361,372,1079,44,alternate
7,Vandiviere et al,1973,8,2537,10,619,19,random
8,TPT Madras,1980,505,87886,499,87892,13,random
9,Coetzee & Berjak,1968,29,7470,45,7232,27,random
10,Rosenthal et al,1961,17,1699,65,1600,42,systematic
11,Comstock et al,1974,186,50448,141,27197,18,systematic
12,Comstock & Webster,1969,5,2493,3,2338,33,systematic
13,Comstock et al,1976,27,16886,29,17825,33,systematic
"""

TEMPLATE = """\
metak: 1
id: {id}
label: "{author} {year}"
title: "BCG vaccine vs no vaccine for the prevention of tuberculosis ({author} {year})"
citation:
  authors: ["{first}"]
  year: {year}
condition: tuberculosis prevention
design: parallel
allocation: {allocation}
characteristics:
  latitude: {ablat}            # absolute latitude of the study location (degrees)
  allocation: {alloc}          # method of treatment allocation: random | alternate | systematic
arms:
  - id: bcg
    label: "BCG vaccine"
    role: experimental
    intervention: BCG vaccine
  - id: control
    label: "No vaccine"
    role: control
    intervention: none
outcomes:
  - id: tb
    label: "Tuberculosis cases"
    type: binary
    direction: lower_is_better
    data:
      bcg:     {{events: {tpos}, total: {n1}}}
      control: {{events: {cpos}, total: {n2}}}
    source:
      where: "metadat dat.bcg (Colditz et al. 1994, JAMA 271:698-702, Table 1)"
      derived: true
      note: "total = TB positive + TB negative ({tpos} + {tneg} and {cpos} + {cneg})"
"""


def main():
    out = Path(__file__).parent / "trials"
    out.mkdir(exist_ok=True)
    for line in DAT_BCG.splitlines():
        trial, author, year, tpos, tneg, cpos, cneg, ablat, alloc = line.split(",")
        first = author.split()[0].replace("-", "")
        rid = f"{first.lower()}{year}"
        text = TEMPLATE.format(id=rid, author=author, first=author.replace(" et al", ""), year=year, tpos=tpos,
                               tneg=tneg, cpos=cpos, cneg=cneg, n1=int(tpos) + int(tneg), n2=int(cpos) + int(cneg),
                               ablat=ablat, alloc=alloc,
                               allocation="randomized" if alloc == "random" else "non_randomized")
        (out / f"{rid}.yaml").write_text(text)


if __name__ == "__main__":
    main()
