#!/usr/bin/env Rscript
# make_shared_bias_reference.R -- pinned metafor fits for metak's shared-bias model
# (metak/sensitivity/shared_bias.py). Run from the repository root:
#   Rscript tests/reference/make_shared_bias_reference.R
# Writes tests/reference/metafor_shared_bias_reference.json (R/metafor versions and calls recorded).
#
# Model: y_i ~ N(mu + z_i beta, v_i + tau^2 + z_i kappa^2), z_i = 1 for a "compromised" trial.
# Data: metadat's dat.raudenbush1985 (teacher expectancy; z = tester "aware", i.e. the tester was
# not blind to the expectancy induction) and dat.bcg (log risk ratios; z = allocation not random).
# Cases:
#   reg    -- kappa = 0, beta estimated: rma(yi, vi, mods = ~ z, method = "REML")
#   fixed  -- beta fixed at b with a shared variance s2 and kappa^2 fixed at k2:
#             rma.mv(yi - b z, V = diag(vi + k2 z) + s2 z z', random = ~ 1 | id, method = "REML")
#   diag   -- beta and kappa estimated: rma.mv(yi, vi, mods = ~ z, random = ~ factor(z) | id,
#             struct = "DIAG"), i.e. separate variances tau0^2 (z = 0) and tau1^2 (z = 1); when
#             tau1^2 >= tau0^2 this is the shared model with tau^2 = tau0^2, kappa^2 = tau1^2 - tau0^2.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
mvctl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-14)

sets <- list()
r <- dat.raudenbush1985
sets$raudenbush1985 <- list(yi = r$yi, vi = r$vi, z = as.numeric(r$tester == "aware"))
b <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
sets$bcg <- list(yi = as.numeric(b$yi), vi = as.numeric(b$vi), z = as.numeric(dat.bcg$alloc != "random"))

out <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
            metadat = as.character(packageVersion("metadat")), control = ctl, cases = list())
fixed_b <- 0.2; fixed_s2 <- 0.01; fixed_k2 <- 0.02
for (nm in names(sets)) {
  d <- sets[[nm]]
  f <- rma(d$yi, d$vi, mods = ~ d$z, method = "REML", control = ctl)
  out$cases[[paste0(nm, "_reg")]] <- list(
    data = d, call = "rma(yi, vi, mods = ~ z, method = 'REML', control = ctl)",
    mu = f$beta[1], beta = f$beta[2], se_mu = f$se[1], se_beta = f$se[2], tau2 = f$tau2,
    ll_reml = as.numeric(logLik(f)))
  id <- seq_along(d$yi)
  V <- diag(d$vi + fixed_k2 * d$z) + fixed_s2 * outer(d$z, d$z)
  g <- rma.mv(d$yi - fixed_b * d$z, V, random = ~ 1 | id, method = "REML", control = mvctl)
  out$cases[[paste0(nm, "_fixed")]] <- list(
    data = d, beta = fixed_b, beta_var = fixed_s2, kappa2 = fixed_k2,
    call = "rma.mv(yi - b z, V = diag(vi + k2 z) + s2 z z', random = ~ 1 | id, method = 'REML')",
    mu = g$beta[1], se_mu = g$se[1], tau2 = g$sigma2, ll_reml = as.numeric(logLik(g)))
  df <- data.frame(yi = d$yi, vi = d$vi, z = d$z, id = id)
  h <- rma.mv(yi, vi, mods = ~ z, random = ~ factor(z) | id, struct = "DIAG", method = "REML", data = df,
              control = mvctl)
  out$cases[[paste0(nm, "_diag")]] <- list(
    data = d, call = "rma.mv(yi, vi, mods = ~ z, random = ~ factor(z) | id, struct = 'DIAG', method = 'REML')",
    mu = h$beta[1], beta = h$beta[2], se_mu = h$se[1], se_beta = h$se[2], tau2_z0 = h$tau2[1],
    tau2_z1 = h$tau2[2], ll_reml = as.numeric(logLik(h)))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/metafor_shared_bias_reference.json")
