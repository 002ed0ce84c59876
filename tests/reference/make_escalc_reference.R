#!/usr/bin/env Rscript
# make_escalc_reference.R -- metafor's escalc for the measures beyond OR/RR/RD/MD/SMD, on metadat
# data, pinned for tests/test_escalc_measures.py. Run from the repository root:
#   Rscript tests/reference/make_escalc_reference.R
# Writes tests/reference/metafor_escalc_reference.json. Each case records the exact R call, the
# columns it used (`args`: metafor argument -> column of `datasets[[dataset]]`), yi and vi
# (null where metafor gives NA). Back-transforms (transf.ilogit, transf.iarcsin,
# transf.ipft.hm, transf.ztor, exp) and one rma(measure = "PLO") fit are pinned too.
# Data: metadat's dat.pritz1997, dat.nielweise2007 (single-arm zero counts), dat.curtis1998,
# dat.normand1999, dat.molloy2014, dat.hart1999; the Morris (2008) pre-post summary data as
# metafor's own test suite types them (tests/testthat/test_analysis_example_morris2008.r; metadat
# 1.2.0 has no dat.morris2008): the treatment groups (morris2008T) and the control groups
# (morris2008C), for MC, SMCC, SMCR and SMCRH (issue 27, P7: the change measures from trial records).
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)

morrisT <- data.frame(m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
                      sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
                      ni = c(20, 50, 9, 10, 14), ri = c(.47, .64, .77, .89, .44))
morrisC <- data.frame(m_pre = c(23.1, 24.9, 0.6, 55.7, 34.8), m_post = c(19.7, 25.3, 0.6, 60.7, 33.4),
                      sd_pre = c(13.8, 4.1, 0.2, 17.3, 3.1), sd_post = c(14.8, 3.3, 0.2, 17.9, 6.9),
                      ni = c(20, 42, 9, 11, 14), ri = c(.47, .64, .77, .89, .44))
nw <- dat.nielweise2007[, c("ai", "n1i", "ci", "n2i")]
datasets <- list(
  pritz1997 = dat.pritz1997[, c("xi", "ni")],
  nielweise2007 = nw,
  curtis1998 = dat.curtis1998[, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")],
  normand1999 = dat.normand1999[, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")],
  molloy2014 = dat.molloy2014[, c("ri", "ni")],
  hart1999 = dat.hart1999[, c("x1i", "t1i", "x2i", "t2i")],
  morris2008T = morrisT,
  morris2008C = morrisC)

cases <- list()
add_case <- function(id, measure, dataset, args, opts = list(), note = NULL) {
  d <- datasets[[dataset]]
  call_args <- c(list(measure = measure), lapply(args, function(col) d[[col]]), opts)
  es <- suppressWarnings(do.call(escalc, call_args))
  argtxt <- paste(sprintf("%s=%s", names(args), unlist(args)), collapse = ", ")
  opttxt <- if (length(opts)) paste0(", ", paste(sprintf("%s=%s", names(opts),
                sapply(opts, function(v) if (is.character(v)) dQuote(v, FALSE) else as.character(v))), collapse = ", ")) else ""
  cases[[length(cases) + 1]] <<- list(id = id, measure = measure, dataset = dataset, args = args, options = opts,
    call = sprintf("escalc(measure=\"%s\", %s%s, data=%s)", measure, argtxt, opttxt, dataset),
    note = note, yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

for (m in c("PLO", "PR", "PLN", "PAS", "PFT"))
  add_case(paste0(m, "_pritz1997"), m, "pritz1997", list(xi = "xi", ni = "ni"))
for (m in c("PLO", "PR", "PLN", "PAS", "PFT"))
  add_case(paste0(m, "_nielweise2007_zeros"), m, "nielweise2007", list(xi = "ai", ni = "n1i"),
           note = "events and sizes of the first arm of dat.nielweise2007 (single-arm zero counts)")
add_case("PLO_pritz1997_add_all", "PLO", "pritz1997", list(xi = "xi", ni = "ni"), list(add = 0.5, to = "all"))
add_case("PLO_pritz1997_if0all", "PLO", "pritz1997", list(xi = "xi", ni = "ni"), list(to = "if0all"))
add_case("PR_pritz1997_none", "PR", "pritz1997", list(xi = "xi", ni = "ni"), list(to = "none"))
add_case("PAS_pritz1997_add", "PAS", "pritz1997", list(xi = "xi", ni = "ni"), list(add = 0.5))
add_case("PFT_pritz1997_add_all", "PFT", "pritz1997", list(xi = "xi", ni = "ni"), list(add = 0.5, to = "all"))

for (m in c("ROM", "SMDH", "VR", "CVR")) {
  add_case(paste0(m, "_curtis1998"), m, "curtis1998", list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i",
           m2i = "m2i", sd2i = "sd2i", n2i = "n2i"))
  add_case(paste0(m, "_normand1999"), m, "normand1999", list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i",
           m2i = "m2i", sd2i = "sd2i", n2i = "n2i"))
}
for (m in c("COR", "ZCOR")) add_case(paste0(m, "_molloy2014"), m, "molloy2014", list(ri = "ri", ni = "ni"))
for (m in c("IRR", "IRD")) {
  add_case(paste0(m, "_hart1999"), m, "hart1999", list(x1i = "x1i", t1i = "t1i", x2i = "x2i", t2i = "t2i"))
  add_case(paste0(m, "_hart1999_add_all"), m, "hart1999", list(x1i = "x1i", t1i = "t1i", x2i = "x2i", t2i = "t2i"),
           list(add = 0.5, to = "all"))
  add_case(paste0(m, "_nielweise2007_zeros"), m, "nielweise2007", list(x1i = "ai", t1i = "n1i", x2i = "ci", t2i = "n2i"),
           note = "zero-count handling: the counts and sizes of dat.nielweise2007 read as counts and person-times")
  add_case(paste0(m, "_nielweise2007_drop00"), m, "nielweise2007", list(x1i = "ai", t1i = "n1i", x2i = "ci", t2i = "n2i"),
           list(drop00 = TRUE), note = "as above, double-zero study 15 dropped")
}
add_case("IRLN_hart1999", "IRLN", "hart1999", list(xi = "x1i", ti = "t1i"))
add_case("IRLN_nielweise2007_zeros", "IRLN", "nielweise2007", list(xi = "ai", ti = "n1i"),
         note = "zero-count handling: first-arm counts and sizes of dat.nielweise2007 as counts and person-times")
add_case("SMCC_morris2008", "SMCC", "morris2008T", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post",
         sd2i = "sd_pre", ni = "ni", ri = "ri"))
add_case("SMCR_morris2008", "SMCR", "morris2008T", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre",
         ni = "ni", ri = "ri"))
# SMCRH (Bonett 2008) as SMCR standardised by the pre-test SD; and all three on the control groups
add_case("SMCRH_morris2008", "SMCRH", "morris2008T", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre",
         sd2i = "sd_post", ni = "ni", ri = "ri"))
add_case("SMCC_morris2008C", "SMCC", "morris2008C", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post",
         sd2i = "sd_pre", ni = "ni", ri = "ri"))
add_case("SMCR_morris2008C", "SMCR", "morris2008C", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre",
         ni = "ni", ri = "ri"))
add_case("SMCRH_morris2008C", "SMCRH", "morris2008C", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre",
         sd2i = "sd_post", ni = "ni", ri = "ri"))
# the raw mean change (MC), both groups
add_case("MC_morris2008", "MC", "morris2008T", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post",
         sd2i = "sd_pre", ni = "ni", ri = "ri"))
add_case("MC_morris2008C", "MC", "morris2008C", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post",
         sd2i = "sd_pre", ni = "ni", ri = "ri"))

# back-transforms of the pooled or study values (metafor's transf functions)
pr <- dat.pritz1997
es_plo <- escalc(measure = "PLO", xi = xi, ni = ni, data = pr)
es_pas <- escalc(measure = "PAS", xi = xi, ni = ni, data = pr)
es_pft <- escalc(measure = "PFT", xi = xi, ni = ni, data = pr)
es_z <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
fit_plo <- rma(yi, vi, data = es_plo, method = "REML", control = ctl)
fit_pft <- rma(yi, vi, data = es_pft, method = "REML", control = ctl)
nat <- function(p) c(p$pred, p$ci.lb, p$ci.ub)
grid <- c(-0.3, 0, 0.2, 0.5, 0.8, 1.2, 1.5, 1.6)
transforms <- list(
  list(name = "ilogit", x = as.numeric(es_plo$yi), y = transf.ilogit(as.numeric(es_plo$yi)), call = "transf.ilogit(yi)"),
  list(name = "iarcsin", x = c(as.numeric(es_pas$yi), grid), y = transf.iarcsin(c(as.numeric(es_pas$yi), grid)),
       call = "transf.iarcsin(x)"),
  list(name = "ipft.hm", x = c(as.numeric(es_pft$yi), grid), ni = pr$ni,
       y = transf.ipft.hm(c(as.numeric(es_pft$yi), grid), targs = list(ni = pr$ni)),
       call = "transf.ipft.hm(x, targs=list(ni=dat.pritz1997$ni))"),
  list(name = "ztor", x = as.numeric(es_z$yi), y = transf.ztor(as.numeric(es_z$yi)), call = "transf.ztor(yi)"))
fits <- list(
  list(id = "PLO_pritz1997_REML", measure = "PLO", dataset = "pritz1997", call =
       "rma(yi, vi, method=\"REML\") on escalc(\"PLO\", xi, ni); predict(fit, transf=transf.ilogit)",
       estimate = as.numeric(fit_plo$b), se = fit_plo$se, ci_lower = fit_plo$ci.lb, ci_upper = fit_plo$ci.ub,
       tau2 = fit_plo$tau2, natural = nat(predict(fit_plo, transf = transf.ilogit))),
  list(id = "PFT_pritz1997_REML", measure = "PFT", dataset = "pritz1997", call =
       "rma(yi, vi, method=\"REML\") on escalc(\"PFT\", xi, ni); predict(fit, transf=transf.ipft.hm, targs=list(ni=ni))",
       estimate = as.numeric(fit_pft$b), se = fit_pft$se, ci_lower = fit_pft$ci.lb, ci_upper = fit_pft$ci.ub,
       tau2 = fit_pft$tau2, natural = nat(predict(fit_pft, transf = transf.ipft.hm, targs = list(ni = pr$ni)))))

out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            generated_by = "tests/reference/make_escalc_reference.R", datasets = datasets, cases = cases,
            transforms = transforms, fits = fits)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE, dataframe = "columns"),
           "tests/reference/metafor_escalc_reference.json")
cat(length(cases), "cases\n")
