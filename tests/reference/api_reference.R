# Reference numbers for tests/test_api.py: the metafor workflow of docs/metafor.md on a
# dataset the other reference files do not use (dat.molloy2014: conscientiousness and
# medication adherence, k = 16 correlations, Fisher's z; moderators meanage and design).
#
#   Rscript tests/reference/api_reference.R   (from the repository root)
#
# writes tests/reference/api_reference.json with the data rows, the exact calls, and the
# R, metafor and metadat versions.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})

dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
dat$study <- paste(dat$authors, dat$year)
# metafor's REML stops at a change of 1e-5 in tau² by default; the references are computed to
# convergence (as make_blinding_reference.R does), so the comparison measures metak, not that
# stopping rule. leave1out, influence, cumul and trimfill refit with the model's control.
ctl <- list(threshold = 1e-12, maxiter = 10000)
calls <- list()
run <- function(name, expr) { calls[[name]] <<- deparse1(substitute(expr)); expr }

res   <- run("rma",      rma(yi, vi, data = dat, slab = study, method = "REML", control = ctl))
reg   <- run("rma_mods", rma(yi, vi, mods = ~ meanage + design, data = dat, method = "REML", control = ctl))
regk  <- run("rma_mods_knha", rma(yi, vi, mods = ~ meanage + design, data = dat, method = "REML", test = "knha", control = ctl))
l1o   <- run("leave1out", leave1out(res))
inf   <- run("influence", influence(res))
cum   <- run("cumul",    cumul(res, order = dat$year))
reg_t <- run("regtest",  regtest(res))
rnk   <- run("ranktest", ranktest(res))
tf    <- run("trimfill", trimfill(res))
ci    <- run("confint",  confint(res, control = list(tol = 1e-12)))
pr    <- run("predict",  predict(res))
prm   <- run("predict_newmods", predict(reg, newmods = rbind(c(30, 0), c(60, 1))))
# trimfill() refits the filled data with rma's default control (threshold 1e-5), not the
# model's: the filled data refitted to convergence are recorded beside it
tfc   <- run("trimfill_refit", rma(tf$yi, tf$vi, method = "REML", control = ctl))
resk  <- run("rma_knha", rma(yi, vi, data = dat, slab = study, method = "REML", test = "knha", control = ctl))

num <- function(x) unname(as.numeric(x))
coefs <- function(m) list(names = rownames(m$beta), estimate = num(m$beta), se = num(m$se),
                          statistic = num(m$zval), p_value = num(m$pval), ci_lower = num(m$ci.lb),
                          ci_upper = num(m$ci.ub))
fitted_uni <- function(m) list(estimate = num(m$beta), se = num(m$se), statistic = num(m$zval),
                               p_value = num(m$pval), ci_lower = num(m$ci.lb), ci_upper = num(m$ci.ub),
                               tau2 = m$tau2, i2 = m$I2, h2 = m$H2, q = m$QE, q_p = m$QEp, k = m$k)
out <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  dataset = "dat.molloy2014",
  escalc = 'escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014); study <- paste(authors, year)',
  calls = calls,
  data = list(study = dat$study, year = dat$year, ni = dat$ni, ri = dat$ri, meanage = dat$meanage,
              design = dat$design, quality = dat$quality, yi = num(dat$yi), vi = num(dat$vi)),
  rma = c(fitted_uni(res), list(weights = num(weights(res)))),
  rma_knha = c(fitted_uni(resk), list(df = resk$k - 1)),
  rma_mods = list(coefficients = coefs(reg), tau2 = reg$tau2, qm = reg$QM, qm_p = reg$QMp,
                  qe = reg$QE, qe_p = reg$QEp, i2 = reg$I2, h2 = reg$H2, r2 = reg$R2),
  rma_mods_knha = list(coefficients = coefs(regk), tau2 = regk$tau2, qm = regk$QM, qm_df = c(regk$QMdf),
                       qm_p = regk$QMp, qe = regk$QE, i2 = regk$I2, r2 = regk$R2),
  leave1out = list(estimate = num(l1o$estimate), se = num(l1o$se), statistic = num(l1o$zval),
                   p_value = num(l1o$pval), ci_lower = num(l1o$ci.lb), ci_upper = num(l1o$ci.ub),
                   q = num(l1o$Q), tau2 = num(l1o$tau2), i2 = num(l1o$I2), h2 = num(l1o$H2)),
  influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits), cook_d = num(inf$inf$cook.d),
                   cov_r = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del), qe_del = num(inf$inf$QE.del),
                   hat = num(inf$inf$hat), weight = num(inf$inf$weight), dfbetas = num(inf$dfbs[[1]]),
                   influential = as.logical(inf$is.infl)),
  cumul = list(order = dat$year, slab = as.character(cum$slab), estimate = num(cum$estimate), se = num(cum$se),
               ci_lower = num(cum$ci.lb), ci_upper = num(cum$ci.ub), tau2 = num(cum$tau2), i2 = num(cum$I2)),
  regtest = list(statistic = num(reg_t$zval), p_value = num(reg_t$pval), limit_estimate = num(reg_t$est),
                 limit_ci_lower = num(reg_t$ci.lb), limit_ci_upper = num(reg_t$ci.ub)),
  ranktest = list(tau = num(rnk$tau), p_value = num(rnk$pval)),
  trimfill = list(k0 = tf$k0, side = tf$side, estimate = num(tf$beta), se = num(tf$se), ci_lower = num(tf$ci.lb),
                  ci_upper = num(tf$ci.ub), tau2 = tf$tau2, k = tf$k),
  trimfill_refit = list(estimate = num(tfc$beta), se = num(tfc$se), ci_lower = num(tfc$ci.lb),
                        ci_upper = num(tfc$ci.ub), tau2 = tfc$tau2, k = tfc$k),
  confint = list(tau2 = num(ci$random["tau^2", ]), tau = num(ci$random["tau", ]),
                 i2 = num(ci$random["I^2(%)", ]), h2 = num(ci$random["H^2", ])),
  predict = list(estimate = num(pr$pred), se = num(pr$se), ci_lower = num(pr$ci.lb), ci_upper = num(pr$ci.ub),
                 pi_lower = num(pr$pi.lb), pi_upper = num(pr$pi.ub)),
  predict_newmods = list(newmods = list(c(30, 0), c(60, 1)), estimate = num(prm$pred), se = num(prm$se),
                         ci_lower = num(prm$ci.lb), ci_upper = num(prm$ci.ub),
                         pi_lower = num(prm$pi.lb), pi_upper = num(prm$pi.ub))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/api_reference.json")
