#!/usr/bin/env Rscript
# make_multiarm_reference.R -- metafor fits of hand-built two-arm data for metak's
# multi_arm: split_control and combine. Three-arm trials (two doses, one control) are written
# out as two-arm rows by hand: split_control halves the control's events and total (each dose
# against half the control group); combine adds the dose arms' events and totals.
# Run from the repository root: Rscript tests/reference/make_multiarm_reference.R
# Writes tests/reference/metafor_multiarm_reference.json. Counts are SYNTHETIC.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
trials <- list(
  list(id = "a", lo = c(8, 30), hi = c(12, 31), ctl = c(5, 32)),
  list(id = "b", lo = c(15, 40), hi = c(19, 38), ctl = c(9, 41)),
  list(id = "c", lo = NULL, hi = c(7, 20), ctl = c(3, 22)),
  list(id = "d", lo = c(4, 25), hi = c(9, 26), ctl = c(2, 24)))
split <- do.call(rbind, lapply(trials, function(t) {
  arms <- Filter(Negate(is.null), list(lo = t$lo, hi = t$hi)); p <- length(arms)
  do.call(rbind, lapply(names(arms), function(a) data.frame(trial = t$id, arm = a, ai = arms[[a]][1],
    n1i = arms[[a]][2], ci = t$ctl[1] / p, n2i = t$ctl[2] / p)))
}))
comb <- do.call(rbind, lapply(trials, function(t) {
  arms <- Filter(Negate(is.null), list(t$lo, t$hi))
  data.frame(trial = t$id, ai = sum(sapply(arms, `[`, 1)), n1i = sum(sapply(arms, `[`, 2)), ci = t$ctl[1], n2i = t$ctl[2])
}))
cases <- list()
for (m in c("RR", "OR", "RD")) for (rule in c("split_control", "combine")) {
  d <- if (rule == "split_control") split else comb
  r <- rma(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d, method = "REML")
  cases[[length(cases) + 1]] <- list(id = paste(m, rule, sep = "_"), measure = m, rule = rule,
    yi = as.numeric(r$yi), vi = as.numeric(r$vi), estimate = as.numeric(r$b), se = r$se, tau2 = r$tau2,
    ci_lower = r$ci.lb, ci_upper = r$ci.ub,
    call = sprintf("rma(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=<%s rows>, method=\"REML\")", m, rule))
}
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            generated_by = "tests/reference/make_multiarm_reference.R", trials = trials, cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tests/reference/metafor_multiarm_reference.json")
