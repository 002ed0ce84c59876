#!/usr/bin/env Rscript
# make_glmm_reference.R -- pinned metafor rma.glmm fits for metak.glmm (issue 27, contract 6.2).
# Run from the repository root:
#   Rscript tests/reference/make_glmm_reference.R
# Writes tests/reference/metafor_glmm_reference.json (R, metafor, lme4, BiasedUrn versions and
# the exact call of every fit). Data are metadat's datasets, unchanged.
#
# Control settings, tight:
# - UM.FS, CM.AL (one scalar random effect): lme4::glmer with nAGQ = 25 (adaptive
#   Gauss-Hermite, near-exact), bobyqa with rhoend 1e-10.
# - UM.RS: glmer cannot use nAGQ > 1 with two random effects; metafor sets nAGQ = 1 (the
#   Laplace approximation). metak reproduces it with nagq=1.
# - the common-effect and saturated fits by glm(): epsilon 1e-14 (glm's default 1e-8 leaves
#   its SEs ~1e-6 off; they are taken from the last IRLS weights).
# - CM.EL: metafor's own optimisation (optim BFGS, reltol 1e-14), integrate() rel.tol 1e-12,
#   BiasedUrn::dFNCHypergeo with precision 1e-15.
# A fit that errors is recorded with its error message (metak must still fit there).
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

one_fit <- function(name, measure, args, model, method) {
  nagq <- if (model == "UM.RS") 1 else 25
  call <- c(args, list(measure = measure, model = model, method = method, nAGQ = nagq,
                       control = ctl_for(model)))
  r <- tryCatch(suppressWarnings(do.call(rma.glmm, call)), error = function(e) e)
  desc <- sprintf("rma.glmm(%s, measure = \"%s\", model = \"%s\", method = \"%s\", nAGQ = %d, control = <tight, see script>)",
                  paste(names(args), collapse = ", "), measure, model, method, nagq)
  if (inherits(r, "error"))
    return(list(dataset = name, measure = measure, model = model, method = method, call = desc,
                error = conditionMessage(r)))
  list(dataset = name, measure = measure, model = model, method = method, call = desc, nAGQ = nagq,
       k = r$k, estimate = num(r$b), se = num(r$se), ci_lower = num(r$ci.lb), ci_upper = num(r$ci.ub),
       tau2 = num(r$tau2), loglik = num(logLik(r)),
       QE_Wld = num(r$QE.Wld), QE_LRT = num(r$QE.LRT), QE_df = num(r$QE.df),
       sigma2 = if (model == "UM.RS") num(r$sigma2) else NULL)
}

datasets <- list(
  nielweise2007 = list(measure = "OR", args = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i))),
  li2007 = list(measure = "OR", args = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i))),
  collins1985a = list(measure = "OR", args = with(subset(dat.collins1985a, !is.na(b.xti) & !is.na(b.xci)),
                                                   list(ai = b.xti, n1i = nti, ci = b.xci, n2i = nci))),
  bcg = list(measure = "OR", args = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg))),
  pritz1997 = list(measure = "PLO", args = with(dat.pritz1997, list(xi = xi, ni = ni))),
  nielweise2008 = list(measure = "IRR", args = with(dat.nielweise2008, list(x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i))),
  hart1999 = list(measure = "IRR", args = with(dat.hart1999, list(x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i)))
)

fits <- list()
inputs <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  inputs[[name]] <- c(list(measure = d$measure), d$args)
  models <- if (d$measure == "OR") c("UM.FS", "UM.RS", "CM.EL", "CM.AL") else if (d$measure == "PLO") c("UM.FS") else c("UM.FS", "UM.RS")
  for (model in models) for (method in c("ML", "FE")) {
    if (d$measure == "PLO" && method == "FE" && FALSE) next
    cat(name, model, method, "\n")
    fits[[length(fits) + 1]] <- one_fit(name, d$measure, d$args, model, method)
  }
}

# UM.RS's common-effect fit has one random effect (the study intercepts), so lme4 can use
# nAGQ = 25 there: the same model as rma.glmm(model = "UM.RS", method = "FE") without the
# Laplace approximation that metafor forces (checks metak's two-dimensional rule, tau = 0).
lme4_checks <- list()
for (name in c("nielweise2007", "li2007", "bcg")) {
  a <- datasets[[name]]$args
  keep <- !((a$ai == 0 & a$ci == 0) | (a$ai == a$n1i & a$ci == a$n2i))
  k <- sum(keep)
  y <- c(rbind(a$ai[keep], a$ci[keep])); n <- c(rbind(a$n1i[keep], a$n2i[keep]))
  group1 <- rep(c(1, 0), k); study <- factor(rep(seq_len(k), each = 2))
  m <- glmer(cbind(y, n - y) ~ group1 + (1 | study), family = binomial, nAGQ = 25,
             control = do.call(glmerControl, glmer_ctl))
  lme4_checks[[length(lme4_checks) + 1]] <- list(
    dataset = name, call = "glmer(cbind(y, n - y) ~ group1 + (1 | study), family = binomial, nAGQ = 25)",
    estimate = unname(fixef(m)[2]), se = unname(sqrt(diag(vcov(m)))[2]), sigma2 = VarCorr(m)[[1]][1])
}

out <- list(
  generated_by = "tests/reference/make_glmm_reference.R",
  r_version = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  metadat = as.character(packageVersion("metadat")),
  lme4 = as.character(packageVersion("lme4")),
  BiasedUrn = as.character(packageVersion("BiasedUrn")),
  glmer_control = glmer_ctl,
  inputs = inputs,
  fits = fits,
  lme4_checks = lme4_checks)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           "tests/reference/metafor_glmm_reference.json")
