#!/usr/bin/env Rscript
# make_dropout_reference.R -- pinned metafor fits of dropout counts for metak's dropout
# meta-analyses (all-cause and by reason, by control type). Run from the repository root:
#   Rscript tests/reference/make_dropout_reference.R
# Writes tests/reference/metafor_dropout_reference.json. The counts are SYNTHETIC test data
# (tests/test_dropout.py writes the same trials as records). A trial with no dropouts in
# either arm (t3) is left out of RR and OR (not estimable, as RevMan) and kept for RD.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
d <- data.frame(trial = c("t1", "t2", "t3", "t4", "t5"),
                ai = c(4, 0, 0, 5, 2), n1i = c(27, 20, 12, 30, 47),
                ci = c(7, 6, 0, 9, 3), n2i = c(28, 20, 10, 30, 25),
                ae1 = c(1, NA, NA, 2, NA), ae2 = c(0, NA, NA, 1, NA),
                ct = c("active_placebo", "active_placebo", "placebo", "placebo", "active_placebo"))
cases <- list()
for (m in c("RR", "OR", "RD")) for (meth in c("REML", "DL")) for (t in c("z", "knha")) {
  dd <- if (m == "RD") d else d[!(d$ai == 0 & d$ci == 0), ]
  es <- escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dd)
  r <- rma(yi, vi, data = es, method = meth, test = t, control = ctl)
  cases[[length(cases) + 1]] <- list(id = sprintf("dropout_%s_%s_%s", m, meth, t), measure = m, method = meth,
    test = t, reason = "all", trials = dd$trial, k = r$k, estimate = as.numeric(r$b), se = r$se, ci_lower = r$ci.lb,
    ci_upper = r$ci.ub, tau2 = r$tau2,
    call = sprintf("rma(yi, vi, method=\"%s\", test=\"%s\") on escalc(\"%s\", ai, n1i, ci, n2i)%s", meth, t, m,
                   if (m == "RD") "" else " without the double-zero trial t3"))
}
# adverse-event dropouts (trials reporting reasons), RD
dd <- d[!is.na(d$ae1), ]
es <- escalc(measure = "RD", ai = ae1, n1i = n1i, ci = ae2, n2i = n2i, data = dd)
r <- rma(yi, vi, data = es, method = "REML", control = ctl)
cases[[length(cases) + 1]] <- list(id = "dropout_ae_RD_REML_z", measure = "RD", method = "REML", test = "z",
  reason = "adverse_events", trials = dd$trial, k = r$k, estimate = as.numeric(r$b), se = r$se,
  ci_lower = r$ci.lb, ci_upper = r$ci.ub, tau2 = r$tau2, call = "rma(yi, vi) on escalc(\"RD\", ae1, n1i, ae2, n2i)")
# by control type: moderator, RR REML z (t3 out)
dd <- d[!(d$ai == 0 & d$ci == 0), ]
es <- escalc(measure = "RR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dd)
r <- rma(yi, vi, mods = ~ factor(ct), data = es, method = "REML", control = ctl)
moderator <- list(b = as.numeric(r$b), se = r$se, qm = r$QM, qm_p = r$QMp, tau2 = r$tau2,
                  call = "rma(yi, vi, mods = ~ factor(ct), method=\"REML\") on the RR without t3")
groups <- lapply(split(es, es$ct), function(g) {
  rr <- rma(yi, vi, data = g, method = "REML", control = ctl)
  list(ct = g$ct[1], k = rr$k, estimate = as.numeric(rr$b), se = rr$se)
})
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            generated_by = "tests/reference/make_dropout_reference.R", data = d, cases = cases,
            moderator = moderator, subgroups = unname(groups))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/metafor_dropout_reference.json")
