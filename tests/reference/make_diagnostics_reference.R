#!/usr/bin/env Rscript
# make_diagnostics_reference.R -- pinned metafor influence(), baujat(), regtest(), ranktest()
# and trimfill() output for metak's influence and small_study analyses.
# Run from the repository root: Rscript tests/reference/make_diagnostics_reference.R
# Writes tests/reference/metafor_diagnostics_reference.json (R/metafor versions and calls recorded).
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
pdf(NULL)  # baujat() draws; its coordinates are what we keep

one <- function(id, dat, method, test, data_call, holdout = FALSE) {
  res <- rma(yi, vi, data = dat, method = method, test = test, control = ctl)
  inf <- influence(res)$inf
  dfb <- influence(res)$dfbs
  bj <- baujat(res)
  eg <- regtest(res, model = "lm")
  er <- regtest(res)
  rk <- suppressWarnings(ranktest(res))
  tf <- trimfill(res, control = ctl)  # the inner refits too get the tight tolerance
  list(id = id, method = method, test = test, holdout = holdout, data_call = data_call,
       call = sprintf("res <- rma(yi, vi, method=\"%s\", test=\"%s\", control=list(threshold=1e-12, tol=1e-12, maxiter=10000)); influence(res); baujat(res); regtest(res, model=\"lm\"); regtest(res); ranktest(res); trimfill(res, control=list(threshold=1e-12, tol=1e-12, maxiter=10000))", method, test),
       yi = as.numeric(dat$yi), vi = as.numeric(dat$vi),
       influence = list(rstudent = inf$rstudent, dffits = inf$dffits, cook_d = inf$cook.d, cov_r = inf$cov.r,
                        tau2_del = inf$tau2.del, qe_del = inf$QE.del, hat = inf$hat, weight = inf$weight,
                        dfbetas = dfb[[1]], influential = influence(res)$is.infl),
       baujat = list(x = bj$x, y = bj$y),
       egger = list(statistic = eg$zval, df = eg$dfs, p_value = eg$pval, limit_estimate = as.numeric(eg$est),
                    limit_ci_lower = as.numeric(eg$ci.lb), limit_ci_upper = as.numeric(eg$ci.ub)),
       egger_rma = list(statistic = er$zval, df = if (is.null(er$dfs)) NULL else er$dfs, p_value = er$pval,
                        limit_estimate = as.numeric(er$est), limit_ci_lower = as.numeric(er$ci.lb),
                        limit_ci_upper = as.numeric(er$ci.ub)),
       rank_test = list(tau = as.numeric(rk$tau), p_value = rk$pval),
       trim_fill = list(k0 = tf$k0, side = tf$side, se_k0 = tf$se.k0, estimate = as.numeric(tf$beta), se = tf$se,
                        ci_lower = tf$ci.lb, ci_upper = tf$ci.ub, tau2 = tf$tau2,
                        filled_yi = as.numeric(tf$yi[tf$fill]), filled_vi = as.numeric(tf$vi[tf$fill])))
}

cases <- list()
data("dat.bcg", package = "metadat")
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
for (m in c("REML", "DL", "FE", "PM")) for (t in c("z", "knha"))
  cases[[length(cases) + 1]] <- one(sprintf("bcg_RR_%s_%s", m, t), bcg, m, t,
                                    "escalc(measure=\"RR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)")
data("dat.normand1999", package = "metadat")
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
cases[[length(cases) + 1]] <- one("normand1999_SMD_REML_z", nor, "REML", "z",
                                  "escalc(measure=\"SMD\", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999)")
# hold-outs (made after the implementation was fixed)
data("dat.egger2001", package = "metadat")
eg <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
for (m in c("REML", "ML")) for (t in c("z", "knha"))
  cases[[length(cases) + 1]] <- one(sprintf("holdout_egger2001_OR_%s_%s", m, t), eg, m, t,
                                    "escalc(measure=\"OR\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.egger2001)", TRUE)
data("dat.hackshaw1998", package = "metadat")
hk <- dat.hackshaw1998
cases[[length(cases) + 1]] <- one("holdout_hackshaw1998_OR_REML_z", hk, "REML", "z",
                                  "dat.hackshaw1998 (yi, vi as given)", TRUE)
data("dat.pritz1997", package = "metadat")
pr <- escalc(measure = "PR", xi = xi, ni = ni, data = dat.pritz1997)
cases[[length(cases) + 1]] <- one("holdout_pritz1997_PR_DL_z", pr, "DL", "z",
                                  "escalc(measure=\"PR\", xi=xi, ni=ni, data=dat.pritz1997)", TRUE)
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            generated_by = "tests/reference/make_diagnostics_reference.R", cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
           "tests/reference/metafor_diagnostics_reference.json")
