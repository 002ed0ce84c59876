#!/usr/bin/env Rscript
# make_spline_reference.R -- pinned metafor rma.mv fits of a restricted cubic spline
# dose-response, for metak's dose_response: {model: spline}:
#   knots <- quantile(dose, c(0.1, 0.5, 0.9))          # R's type-7 quantiles of the comparisons' doses
#   rma.mv(yi, V, mods = ~ rcspline.eval(dose, knots, inclx = TRUE), random = ~ 1 | trial/comp)
# with rms's basis (rcspline.eval, norm = 2: divided by (t_k - t_1)^2) and V the exact
# shared-control covariance of log odds ratios (1/c + 1/d of the control arm).
# Run from the repository root: Rscript tests/reference/make_spline_reference.R
# Writes tests/reference/metafor_spline_reference.json. The arm data are SYNTHETIC (seeded).
suppressPackageStartupMessages({library(metafor); library(jsonlite); library(rms)})
ctl <- list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-14, maxit = 100000)
make_or <- function(seed, ntrial, doses) {
  set.seed(seed)
  rows <- list()
  for (i in seq_len(ntrial)) {
    narm <- sample(1:length(doses), 1)
    nc <- sample(30:80, 1); pc <- runif(1, 0.15, 0.4)
    c_ev <- max(1, rbinom(1, nc, pc))
    u <- rnorm(1, 0, 0.25)
    for (j in sort(sample(seq_along(doses), narm))) {
      dose <- doses[j]
      ne <- sample(30:80, 1)
      lor <- qlogis(pc) + 1.6 * dose / (dose + 0.3) + u + rnorm(1, 0, 0.15)   # an Emax-like curve
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
add <- function(id, dat, method, test, knots = NULL, holdout = FALSE) {
  if (is.null(knots)) knots <- as.numeric(quantile(dat$d$dose, c(0.1, 0.5, 0.9)))
  X <- rcspline.eval(dat$d$dose, knots = knots, inclx = TRUE)
  r <- rma.mv(yi, dat$V, mods = ~ X, random = ~ 1 | trial/comp, data = dat$d, method = method,
              test = test, control = ctl)
  cases[[length(cases) + 1]] <<- list(id = id, method = method, test = test, holdout = holdout,
    knots = knots, basis = unname(X),
    trial = dat$d$trial, comp = dat$d$comp, dose = dat$d$dose,
    ai = dat$d$ai, n1i = dat$d$n1i, ci = dat$d$ci, n2i = dat$d$n2i,
    yi = as.numeric(dat$d$yi), V = unname(dat$V),
    b = as.numeric(r$b), se = as.numeric(r$se), ci_lower = as.numeric(r$ci.lb), ci_upper = as.numeric(r$ci.ub),
    pval = as.numeric(r$pval), sigma2 = as.numeric(r$sigma2), loglik = as.numeric(logLik(r)),
    call = sprintf("knots <- c(%s); rma.mv(yi, V, mods = ~ rcspline.eval(dose, knots, inclx = TRUE), random = ~ 1 | trial/comp, method=\"%s\", test=\"%s\", control=list(optimizer=\"optim\", optmethod=\"Nelder-Mead\", reltol=1e-14, maxit=100000))",
                   paste(format(knots, digits = 17), collapse = ", "), method, test))
}
doses <- c(0.1, 0.25, 0.5, 1.0)
a <- make_or(20261201, 20, doses)
add("spline20_REML_z", a, "REML", "z")
add("spline20_REML_t", a, "REML", "t")
add("spline20_ML_z_4knots", a, "ML", "z", knots = c(0.1, 0.25, 0.5, 1.0))
b <- make_or(99, 30, c(0.05, 0.2, 0.4, 0.8, 1.2))  # hold-out (made after the implementation was fixed)
add("holdout_spline30_REML_z", b, "REML", "z", holdout = TRUE)
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            rms_version = as.character(packageVersion("rms")),
            generated_by = "tests/reference/make_spline_reference.R", cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/metafor_spline_reference.json")
