# Reference numbers for tests/test_api_workflow.py: metafor's whole workflow through the Python
# API, on a dataset no other test uses: dat.assink2016 (Assink et al. 2016, risk factors for
# delinquency; k = 100 standardised mean differences, yi and vi as metadat gives them). Its
# first level only: the 100 effects are analysed as independent (the three-level structure of
# the data is ignored on purpose; this is a check of the univariate workflow). Moderators year
# (centred publication year) and pubstatus (0/1); grouping column deltype (3 levels).
#
#   Rscript tests/reference/make_api_workflow_reference.R   (from the repository root)
#
# writes tests/reference/api_workflow_reference.json with the data rows, the exact calls, and
# the R, metafor and metadat versions.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})

dat <- dat.assink2016
dat$label <- paste0("s", dat$study, ".", dat$esid)
# metafor's REML stops at a change of 1e-5 in tau² by default: the references are computed to
# convergence, so the comparison measures metak, not that stopping rule. leave1out, influence
# and cumul refit with the model's control; confint() searches its bounds with uniroot at
# tol = 1e-12 (default .Machine$double.eps^0.25 ~ 1e-4).
ctl <- list(threshold = 1e-12, maxiter = 1000)
qp  <- list(tol = 1e-12)
calls <- list()
run <- function(name, expr) { calls[[name]] <<- deparse1(substitute(expr)); expr }

res   <- run("rma",           rma(yi, vi, data = dat, slab = label, method = "REML", control = ctl))
dlk   <- run("rma_dl_knha",   rma(yi, vi, data = dat, slab = label, method = "DL", test = "knha"))
reg   <- run("rma_mods",      rma(yi, vi, mods = ~ year + pubstatus, data = dat, method = "REML", control = ctl))
regk  <- run("rma_mods_knha", rma(yi, vi, mods = ~ year + pubstatus, data = dat, method = "REML", test = "knha", control = ctl))
regd  <- run("rma_mods_dl",   rma(yi, vi, mods = ~ year + pubstatus, data = dat, method = "DL"))
pr    <- run("predict",       predict(res))
prd   <- run("predict_dl_knha", predict(dlk))
prf   <- run("predict_mods",  predict(reg))
prm   <- run("predict_newmods", predict(reg, newmods = rbind(c(-5, 0), c(3, 1))))
ci    <- run("confint",       confint(res, control = qp))
cidl  <- run("confint_dl_knha", confint(dlk, control = qp))
cim   <- run("confint_mods",  confint(reg, control = qp))
cimf  <- run("confint_mods_fixed", confint(reg, fixed = TRUE, random = FALSE))
cimk  <- run("confint_mods_knha", confint(regk, fixed = TRUE, control = qp))
cimd  <- run("confint_mods_dl", confint(regd, control = qp))
l1o   <- run("leave1out",     leave1out(res))
inf   <- run("influence",     influence(res))
cum   <- run("cumul",         cumul(res, order = dat$year))
reg_t <- run("regtest",       regtest(res))
rnk   <- run("ranktest",      ranktest(res))
tf    <- run("trimfill",      trimfill(res))
# trimfill() refits the filled data with rma's default control (threshold 1e-5), not the
# model's: the filled data refitted to convergence are recorded beside it
tfc   <- run("trimfill_refit", rma(tf$yi, tf$vi, method = "REML", control = ctl))
# on this REML fit trimfill() fills no study (k0 = 0); on the DL fit with Knapp-Hartung it fills 25
tfd   <- run("trimfill_dl_knha", trimfill(dlk))
# subgroups: metak's subgroups() fits each group with the model's method and test and tests the
# differences by Cochran's Q between the group estimates (the QE of a fixed-effect model of the
# group estimates with their SEs), and beside it the mixed-effects QM of rma(mods = ~ factor(g))
lv    <- sort(unique(dat$deltype))
sub   <- lapply(lv, function(g) rma(yi, vi, data = dat, subset = deltype == g, method = "REML", control = ctl))
calls$subgroups_each <- 'rma(yi, vi, data = dat, subset = deltype == g, method = "REML", control = ctl) for g in sort(unique(dat$deltype))'
qb    <- run("subgroups_q_between", rma(sapply(sub, coef), sei = sapply(sub, function(m) m$se), method = "FE"))
qm    <- run("subgroups_qm",  rma(yi, vi, mods = ~ factor(deltype), data = dat, method = "REML", control = ctl))

num <- function(x) unname(as.numeric(x))
coefs <- function(m) list(names = rownames(m$beta), estimate = num(m$beta), se = num(m$se),
                          statistic = num(m$zval), p_value = num(m$pval), ci_lower = num(m$ci.lb),
                          ci_upper = num(m$ci.ub))
fitted_uni <- function(m) list(estimate = num(m$beta), se = num(m$se), statistic = num(m$zval),
                               p_value = num(m$pval), ci_lower = num(m$ci.lb), ci_upper = num(m$ci.ub),
                               tau2 = m$tau2, i2 = m$I2, h2 = m$H2, q = m$QE, q_p = m$QEp, k = m$k)
fitted_mods <- function(m) list(coefficients = coefs(m), tau2 = m$tau2, qm = m$QM, qm_df = num(m$QMdf),
                                qm_p = m$QMp, qe = m$QE, qe_p = m$QEp, i2 = m$I2, h2 = m$H2, r2 = m$R2)
random <- function(ci) list(tau2 = num(ci$random["tau^2", ]), tau = num(ci$random["tau", ]),
                            i2 = num(ci$random["I^2(%)", ]), h2 = num(ci$random["H^2", ]),
                            ci_null = ci$ci.null)
fixed <- function(ci) list(names = rownames(ci$fixed), estimate = num(ci$fixed[, "estimate"]),
                           ci_lower = num(ci$fixed[, "ci.lb"]), ci_upper = num(ci$fixed[, "ci.ub"]))
pred <- function(p) list(estimate = num(p$pred), se = num(p$se), ci_lower = num(p$ci.lb), ci_upper = num(p$ci.ub),
                         pi_lower = num(p$pi.lb), pi_upper = num(p$pi.ub))
out <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  dataset = "dat.assink2016",
  preparation = 'dat <- dat.assink2016; dat$label <- paste0("s", dat$study, ".", dat$esid)',
  calls = calls,
  data = list(label = dat$label, study = dat$study, esid = dat$esid, yi = num(dat$yi), vi = num(dat$vi),
              pubstatus = dat$pubstatus, year = num(dat$year), deltype = as.character(dat$deltype)),
  rma = c(fitted_uni(res), list(weights = num(weights(res)))),
  rma_dl_knha = c(fitted_uni(dlk), list(df = dlk$k - 1)),
  rma_mods = fitted_mods(reg),
  rma_mods_knha = fitted_mods(regk),
  rma_mods_dl = fitted_mods(regd),
  predict = pred(pr),
  predict_dl_knha = pred(prd),
  predict_mods = pred(prf),
  predict_newmods = c(list(newmods = list(c(-5, 0), c(3, 1))), pred(prm)),
  confint = random(ci),
  confint_dl_knha = random(cidl),
  confint_mods = random(cim),
  confint_mods_fixed = fixed(cimf),
  confint_mods_knha = c(random(cimk), list(fixed = fixed(cimk))),
  confint_mods_dl = random(cimd),
  leave1out = list(slab = as.character(l1o$slab), estimate = num(l1o$estimate), se = num(l1o$se),
                   statistic = num(l1o$zval), p_value = num(l1o$pval), ci_lower = num(l1o$ci.lb),
                   ci_upper = num(l1o$ci.ub), q = num(l1o$Q), q_p = num(l1o$Qp), tau2 = num(l1o$tau2),
                   i2 = num(l1o$I2), h2 = num(l1o$H2)),
  influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits), cook_d = num(inf$inf$cook.d),
                   cov_r = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del), qe_del = num(inf$inf$QE.del),
                   hat = num(inf$inf$hat), weight = num(inf$inf$weight), inf = as.character(inf$inf$inf),
                   dfbetas = num(inf$dfbs[[1]]), influential = as.logical(inf$is.infl)),
  cumul = list(order = num(dat$year), slab = as.character(cum$slab), estimate = num(cum$estimate),
               se = num(cum$se), ci_lower = num(cum$ci.lb), ci_upper = num(cum$ci.ub), tau2 = num(cum$tau2),
               i2 = num(cum$I2), h2 = num(cum$H2), q = num(cum$Q)),
  regtest = list(statistic = num(reg_t$zval), p_value = num(reg_t$pval), df = num(reg_t$dfs),
                 limit_estimate = num(reg_t$est), limit_ci_lower = num(reg_t$ci.lb),
                 limit_ci_upper = num(reg_t$ci.ub)),
  ranktest = list(tau = num(rnk$tau), p_value = num(rnk$pval)),
  trimfill = list(k0 = tf$k0, side = tf$side, estimate = num(tf$beta), se = num(tf$se), ci_lower = num(tf$ci.lb),
                  ci_upper = num(tf$ci.ub), tau2 = tf$tau2, k = tf$k),
  trimfill_dl_knha = list(k0 = tfd$k0, side = tfd$side, estimate = num(tfd$beta), se = num(tfd$se),
                          ci_lower = num(tfd$ci.lb), ci_upper = num(tfd$ci.ub), tau2 = tfd$tau2, k = tfd$k,
                          yi = num(tfd$yi), vi = num(tfd$vi)),
  trimfill_refit = list(estimate = num(tfc$beta), se = num(tfc$se), ci_lower = num(tfc$ci.lb),
                        ci_upper = num(tfc$ci.ub), tau2 = tfc$tau2, k = tfc$k),
  subgroups = list(value = lv, k = sapply(sub, function(m) m$k), estimate = sapply(sub, function(m) num(m$beta)),
                   se = sapply(sub, function(m) m$se), ci_lower = sapply(sub, function(m) m$ci.lb),
                   ci_upper = sapply(sub, function(m) m$ci.ub), tau2 = sapply(sub, function(m) m$tau2),
                   i2 = sapply(sub, function(m) m$I2), q_between = qb$QE, df_between = qb$k - 1,
                   p_between = qb$QEp, qm = qm$QM, qm_df = num(qm$QMdf), qm_p = qm$QMp)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/api_workflow_reference.json")
