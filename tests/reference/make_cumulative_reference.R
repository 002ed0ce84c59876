#!/usr/bin/env Rscript
# make_cumulative_reference.R -- pinned metafor cumul() output for metak's cumulative analysis.
# Run from the repository root: Rscript tests/reference/make_cumulative_reference.R
# Writes tests/reference/metafor_cumulative_reference.json (R, metafor versions and calls recorded).
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
data("dat.bcg", package = "metadat")
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
cases <- list()
for (m in c("REML", "DL", "FE")) for (t in c("z", "knha")) {
  res <- rma(yi, vi, data = dat, method = m, test = t, control = ctl)
  ord <- order(dat$year, dat$author)
  key <- match(seq_along(ord), ord)  # each study's position: cumul() sorts by this variable
  cu <- cumul(res, order = key)
  cases[[length(cases) + 1]] <- list(
    id = sprintf("bcg_RR_%s_%s_by_year", m, t), method = m, test = t,
    call = sprintf("cumul(rma(yi, vi, data=dat, method=\"%s\", test=\"%s\", control=list(threshold=1e-12, tol=1e-12, maxiter=10000)), order=match(seq_along(ord), ord)) with ord <- order(dat$year, dat$author)", m, t),
    data_call = "escalc(measure=\"RR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)",
    author = as.character(dat$author[ord]), year = dat$year[ord], slab = as.character(cu$slab),
    estimate = as.numeric(cu$estimate), se = as.numeric(cu$se), ci_lower = as.numeric(cu$ci.lb),
    ci_upper = as.numeric(cu$ci.ub), tau2 = as.numeric(cu$tau2), i2 = as.numeric(cu$I2))
}
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            generated_by = "tests/reference/make_cumulative_reference.R", cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/metafor_cumulative_reference.json")
