#!/usr/bin/env Rscript
# make_multivariate_reference.R -- pinned metafor rma.mv fits for metak's multivariate
# (multi-arm) model: rma.mv(yi, V, mods, random = ~ 1 | trial/comparison), with V the exact
# shared-control covariance (OR: 1/c + 1/d of the control arm; MD: sd_c^2 / n_c).
# Run from the repository root: Rscript tests/reference/make_multivariate_reference.R
# Writes tests/reference/metafor_multivariate_reference.json. The arm data are SYNTHETIC
# (a seeded simulation below), with dose arms, so that trials have 1-3 comparisons.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
ctl <- list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-14, maxit = 100000)
make_or <- function(seed, ntrial) {
  set.seed(seed)
  rows <- list()
  for (i in seq_len(ntrial)) {
    narm <- sample(1:3, 1)
    nc <- sample(20:60, 1); pc <- runif(1, 0.15, 0.4)
    c_ev <- max(1, rbinom(1, nc, pc))
    u <- rnorm(1, 0, 0.3)
    for (j in seq_len(narm)) {
      dose <- c(0.25, 0.5, 1.0)[j]
      ne <- sample(20:60, 1)
      lor <- qlogis(pc) + 0.8 * dose + u + rnorm(1, 0, 0.2)
      e_ev <- min(ne - 1, max(1, rbinom(1, ne, plogis(lor))))
      rows[[length(rows) + 1]] <- data.frame(trial = i, comp = j, dose = dose, ai = e_ev, n1i = ne,
                                             ci = c_ev, n2i = nc)
    }
  }
  d <- do.call(rbind, rows)
  d <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d)
  V <- diag(d$vi)
  for (i in unique(d$trial)) {
    idx <- which(d$trial == i)
    if (length(idx) > 1) for (a in idx) for (b in idx) if (a != b)
      V[a, b] <- 1 / d$ci[a] + 1 / (d$n2i[a] - d$ci[a])
  }
  list(d = d, V = V)
}
cases <- list()
add <- function(id, dat, method, test, mods, holdout = FALSE) {
  r <- if (is.null(mods)) rma.mv(yi, dat$V, random = ~ 1 | trial/comp, data = dat$d, method = method,
                                 test = test, control = ctl)
       else rma.mv(yi, dat$V, mods = ~ dose, random = ~ 1 | trial/comp, data = dat$d, method = method,
                   test = test, control = ctl)
  cases[[length(cases) + 1]] <<- list(id = id, method = method, test = test, mods = !is.null(mods),
    holdout = holdout, trial = dat$d$trial, comp = dat$d$comp, dose = dat$d$dose,
    ai = dat$d$ai, n1i = dat$d$n1i, ci = dat$d$ci, n2i = dat$d$n2i,
    yi = as.numeric(dat$d$yi), V = unname(dat$V),
    b = as.numeric(r$b), se = as.numeric(r$se), ci_lower = as.numeric(r$ci.lb), ci_upper = as.numeric(r$ci.ub),
    pval = as.numeric(r$pval), sigma2 = as.numeric(r$sigma2), qe = r$QE, qe_p = r$QEp, loglik = as.numeric(logLik(r)),
    call = sprintf("rma.mv(yi, V, %srandom = ~ 1 | trial/comp, method=\"%s\", test=\"%s\", control=list(optimizer=\"optim\", optmethod=\"Nelder-Mead\", reltol=1e-14, maxit=100000))",
                   if (is.null(mods)) "" else "mods = ~ dose, ", method, test))
}
a <- make_or(20261201, 12)
for (m in c("REML", "ML")) for (t in c("z", "t")) add(sprintf("or12_%s_%s", m, t), a, m, t, NULL)
add("or12_REML_z_dose", a, "REML", "z", TRUE)
add("or12_REML_t_dose", a, "REML", "t", TRUE)
b <- make_or(7, 25)  # hold-out (made after the implementation was fixed)
add("holdout_or25_REML_z", b, "REML", "z", NULL, TRUE)
add("holdout_or25_REML_z_dose", b, "REML", "z", TRUE, TRUE)
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            generated_by = "tests/reference/make_multivariate_reference.R", cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = FALSE),
           "tests/reference/metafor_multivariate_reference.json")
