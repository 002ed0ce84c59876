#!/usr/bin/env Rscript
# make_glmm_one_study_reference.R -- what metafor's rma.glmm does with one study (issue 27, R1).
# Run from the repository root:
#   Rscript tests/reference/make_glmm_one_study_reference.R
# Writes tests/reference/glmm_one_study_reference.json (R, metafor, lme4, BiasedUrn versions and
# the exact call of every fit). Data: single rows of metadat's dat.nielweise2007 and dat.bcg,
# unchanged. For every model, method = "ML" (rma.glmm refuses it: the error is recorded) and
# method = "EE" (the common-effect model, which metak fits instead on one study).
# Control settings as tests/reference/make_glmm_reference.R (tight).
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite); library(lme4)
  library(BiasedUrn)})

glmer_ctl <- list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e6))
ctl_for <- function(model) {
  if (model == "CM.EL")
    return(list(optimizer = "optim", optmethod = "BFGS", optCtrl = list(reltol = 1e-14, maxit = 10000),
                intCtrl = list(lower = -Inf, upper = Inf, rel.tol = 1e-12, subdivisions = 1000),
                dnchgcalc = "dFNCHypergeo", dnchgprec = 1e-15, hessianCtrl = list(r = 16)))
  list(glmerCtrl = glmer_ctl, glmCtrl = list(epsilon = 1e-14, maxit = 1000))
}
num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x[1])) NULL else as.numeric(x[1])

rows <- list(
  nielweise2007_row2 = with(dat.nielweise2007[2, ], list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  nielweise2007_row5 = with(dat.nielweise2007[5, ], list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  bcg_row1 = with(dat.bcg[1, ], list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg)))

fits <- list()
for (name in names(rows)) for (model in c("UM.FS", "UM.RS", "CM.EL", "CM.AL")) for (method in c("ML", "EE")) {
  args <- rows[[name]]
  call <- c(args, list(measure = "OR", model = model, method = method, control = ctl_for(model)))
  desc <- sprintf("rma.glmm(ai = %g, n1i = %g, ci = %g, n2i = %g, measure = \"OR\", model = \"%s\", method = \"%s\", control = <tight, see script>)",
                  args$ai, args$n1i, args$ci, args$n2i, model, method)
  r <- tryCatch(suppressWarnings(do.call(rma.glmm, call)), error = function(e) e)
  fit <- list(row = name, data = args, model = model, method = method, call = desc)
  if (inherits(r, "error")) {
    fit$error <- conditionMessage(r)
  } else {
    fit <- c(fit, list(k = r$k, estimate = num(r$b), se = num(r$se), ci_lower = num(r$ci.lb),
                       ci_upper = num(r$ci.ub), tau2 = num(r$tau2), QE_Wld = num(r$QE.Wld), QE_df = num(r$QE.df)))
  }
  fits[[length(fits) + 1]] <- fit
}

out <- list(
  generated_by = "tests/reference/make_glmm_one_study_reference.R",
  r_version = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  metadat = as.character(packageVersion("metadat")),
  lme4 = as.character(packageVersion("lme4")),
  BiasedUrn = as.character(packageVersion("BiasedUrn")),
  fits = fits)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/glmm_one_study_reference.json")
