#!/usr/bin/env Rscript
# make_influence_regression_reference.R -- metafor's influence() of meta-regressions (models with
# moderators) for metak's RegressionFit.influence(). Run from the repository root:
#   Rscript tests/reference/make_influence_regression_reference.R
# Writes tests/reference/metafor_influence_regression_reference.json (never a CI dependency).
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5)
cases <- list()
add <- function(id, dataset, dat, mods_text, method, test) {
  call <- sprintf("rma(yi, vi, mods = %s, data = dat, method = \"%s\", test = \"%s\", control = ctrl)",
                  mods_text, method, test)
  res <- eval(parse(text = call))
  inf <- influence(res)
  X <- model.matrix(res)
  cases[[length(cases) + 1]] <<- list(
    id = id, dataset = dataset, method = method, test = test, call = call,
    influence_call = "influence(res)", yi = as.numeric(dat$yi), vi = as.numeric(dat$vi),
    X = unname(lapply(seq_len(nrow(X)), function(i) as.numeric(X[i, ]))),
    rstudent = inf$inf$rstudent, dffits = inf$inf$dffits, cook_d = inf$inf$cook.d,
    cov_r = inf$inf$cov.r, tau2_del = inf$inf$tau2.del, qe_del = inf$inf$QE.del,
    hat = inf$inf$hat, weight = inf$inf$weight,
    dfbetas = unname(lapply(seq_len(res$k), function(i) as.numeric(sapply(colnames(X), function(nm) inf$dfbs[[nm]][i])))),
    influential = inf$inf$inf == "*")
}
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
for (m in c("REML", "DL", "ML", "FE")) for (t in c("z", "knha"))
  add(sprintf("bcg_ablat_%s_%s", m, t), "dat.bcg (RR)", bcg, "~ ablat", m, t)
add("bcg_ablat_year_REML_knha", "dat.bcg (RR)", bcg, "~ ablat + year", "REML", "knha")
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
add("molloy_meanage_REML_z", "dat.molloy2014 (ZCOR)", mol, "~ meanage", "REML", "z")
out <- list(r_version = R.version.string, metafor = as.character(packageVersion("metafor")),
            metadat = as.character(packageVersion("metadat")), control = "threshold=1e-12, maxiter=10000, stepadj=0.5",
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE),
           "tests/reference/metafor_influence_regression_reference.json")
cat("wrote", length(cases), "cases\n")
