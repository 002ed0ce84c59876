#!/usr/bin/env Rscript
# make_selmodel_reference.R -- pinned metafor selection models (selmodel) and PET/PEESE
# meta-regressions on metadat's published datasets, for metak.sensitivity.selection and
# metak.sensitivity.pet_peese.
#   res <- rma(yi, vi, method = "ML" | "FE")
#   selmodel(res, type = <type>, steps = <steps>, alternative = <alt>, control = ctl)
#   rma(yi, vi, mods = ~ sqrt(vi), method = "FE")   # PET
#   rma(yi, vi, mods = ~ vi,       method = "FE")   # PEESE
# Tight controls: optim BFGS with reltol 1e-15, integrate() with rel.tol 1e-10.
# Run from the repository root: Rscript tests/reference/make_selmodel_reference.R
# Writes tests/reference/metafor_selmodel_reference.json.
suppressPackageStartupMessages({library(metafor); library(jsonlite); library(numDeriv)})
ctl <- list(reltol = 1e-15, maxit = 10000, intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L))
num <- function(x) if (is.null(x)) NULL else unname(as.numeric(x))
data_of <- function(name) {
  if (name == "hackshaw1998") { d <- dat.hackshaw1998; return(list(yi = d$yi, vi = d$vi)) }
  if (name == "bangertdrowns2004") { d <- dat.bangertdrowns2004; return(list(yi = d$yi, vi = d$vi)) }
  if (name == "hahn2001") {
    d <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hahn2001, drop00 = TRUE)
    d <- d[!is.na(d$yi), ]
    return(list(yi = as.numeric(d$yi), vi = as.numeric(d$vi)))
  }
  if (name == "baskerville2012") { d <- dat.baskerville2012; return(list(yi = d$smd, vi = d$se^2)) }
  stop("unknown dataset")
}
datasets <- list()
for (nm in c("hackshaw1998", "bangertdrowns2004", "hahn2001", "baskerville2012")) datasets[[nm]] <- data_of(nm)
cases <- list()
add <- function(id, dataset, method, type, steps = NULL, alternative = "greater") {
  d <- datasets[[dataset]]
  res <- rma(d$yi, d$vi, method = method)
  call <- sprintf("selmodel(rma(yi, vi, method = '%s'), type = '%s'%s, alternative = '%s', control = ctl)",
                  method, type, if (is.null(steps)) "" else sprintf(", steps = c(%s)", paste(steps, collapse = ", ")),
                  alternative)
  w <- character(0)
  out <- withCallingHandlers(tryCatch({
    sel <- if (is.null(steps)) selmodel(res, type = type, alternative = alternative, control = ctl)
           else selmodel(res, type = type, steps = steps, alternative = alternative, control = ctl)
    list(estimate = num(sel$beta), se = num(sel$se), tau2 = num(sel$tau2), se_tau2 = num(sel$se.tau2),
         delta = num(sel$delta), se_delta = num(sel$se.delta), ll = num(sel$ll), ll0 = num(sel$ll0),
         lrt = num(sel$LRT), lrt_df = num(sel$LRTdf), lrt_p = num(sel$LRTp), steps = num(sel$steps),
         ci_lower = num(sel$ci.lb), ci_upper = num(sel$ci.ub))
  }, error = function(e) list(error = conditionMessage(e))),
  warning = function(wn) { w <<- c(w, conditionMessage(wn)); invokeRestart("muffleWarning") })
  cat(id, format(Sys.time()), if (!is.null(out$error)) out$error else "", "\n")
  cases[[length(cases) + 1]] <<- c(list(id = id, dataset = dataset, method = method, type = type,
                                        steps = steps, alternative = alternative, call = call,
                                        warnings = w), out)
}
for (ty in c("beta", "halfnorm", "negexp", "logistic", "power")) add(paste0("hackshaw_", ty), "hackshaw1998", "ML", ty)
add("hackshaw_stepfun", "hackshaw1998", "ML", "stepfun", c(0.025, 0.10, 0.50, 1))
add("hackshaw_stepfun_fe", "hackshaw1998", "FE", "stepfun", c(0.025, 0.5, 1))
add("hackshaw_halfnorm_two", "hackshaw1998", "ML", "halfnorm", NULL, "two.sided")
add("hackshaw_stepfun_two", "hackshaw1998", "ML", "stepfun", c(0.05, 0.5, 1), "two.sided")
for (ty in c("beta", "halfnorm", "negexp", "logistic", "power")) add(paste0("bangert_", ty), "bangertdrowns2004", "ML", ty)
add("bangert_stepfun", "bangertdrowns2004", "ML", "stepfun", c(0.025, 0.5, 1))
add("bangert_stepfun3", "bangertdrowns2004", "ML", "stepfun", c(0.05, 0.10, 0.50, 1))
for (ty in c("halfnorm", "negexp", "logistic", "power")) add(paste0("hahn_", ty, "_less"), "hahn2001", "FE", ty, NULL, "less")
# (baskerville2012 with type beta is left out: R's integrate at rel.tol 1e-10 did not finish in 5 minutes)
add("baskerville_stepfun", "baskerville2012", "ML", "stepfun", c(0.025, 1))
# refusals: k too small, an empty interval
add("hahn_stepfun_empty", "hahn2001", "FE", "stepfun", c(0.001, 0.002, 1), "less")
# PET / PEESE
pet <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  p1 <- rma(d$yi, d$vi, mods = ~ sqrt(d$vi), method = "FE")
  p2 <- rma(d$yi, d$vi, mods = ~ d$vi, method = "FE")
  pet[[nm]] <- list(pet = list(estimate = num(p1$beta), se = num(p1$se), zval = num(p1$zval), pval = num(p1$pval),
                               ci_lower = num(p1$ci.lb), ci_upper = num(p1$ci.ub)),
                    peese = list(estimate = num(p2$beta), se = num(p2$se), zval = num(p2$zval), pval = num(p2$pval),
                                 ci_lower = num(p2$ci.lb), ci_upper = num(p2$ci.ub)))
}
out <- list(r_version = R.version.string, metafor = as.character(packageVersion("metafor")),
            metadat = as.character(packageVersion("metadat")), numDeriv = as.character(packageVersion("numDeriv")),
            control = "list(reltol = 1e-15, maxit = 10000, intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L))",
            datasets = datasets, cases = cases, pet_peese = pet)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/metafor_selmodel_reference.json")
for (cs in cases) cat(cs$id, if (!is.null(cs$error)) paste("ERROR:", cs$error) else sprintf("est=%.6f tau2=%.6f", cs$estimate, cs$tau2),
                      if (length(cs$warnings)) paste("WARN:", paste(cs$warnings, collapse = " | ")) else "", "\n")
