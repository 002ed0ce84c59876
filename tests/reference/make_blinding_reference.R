#!/usr/bin/env Rscript
# make_blinding_reference.R -- pinned metafor fits for metak's blinding and active-placebo
# bias analyses (classification, restricted, bias-adjusted, by source, tipping point, assumed
# placebo effect). Run from the repository root:
#   Rscript tests/reference/make_blinding_reference.R
# Writes tests/reference/metafor_blinding_reference.json (R/metafor versions and calls recorded).
#
# The allocation-guess tables and control types below are SYNTHETIC test fixtures (cycled
# patterns), not data of the trials: they exist to exercise every classification branch.
# Classification and the Bang index are computed here by hand, independently of metak:
# Bang = (guessed own arm - guessed other arm) / answers; adequate when |Bang| <= max_bang in
# both arms, compromised when an arm exceeds it, unknown without guesses for both arms.
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
Z95 <- qnorm(0.975)
CHINN <- sqrt(3) / pi

# guess patterns: experimental arm (guessed E, guessed C, don't know), control arm likewise
patterns <- list(
  A = list(e = c(8, 7, 10), c = c(7, 8, 10)),    # Bang 0.04 / 0.04  -> adequate
  B = list(e = c(20, 3, 4), c = c(6, 15, 7)),    # 0.63 / 0.32       -> compromised
  C = list(e = c(12, 7, 6), c = c(9, 9, 7)),     # 0.20 / 0          -> adequate (boundary)
  D = NULL,                                      # no guesses        -> unknown
  E = list(e = c(9, 8, 8), c = NULL)             # control arm lacks -> unknown
)
cycle <- c("A", "B", "C", "D", "B", "A", "E")

presets <- list(
  savovic2012 = list(scale = "log_or", value = 0.77, ci = c(0.61, 0.93), kappa = 0, phi = 0),
  hrobjartsson2012 = list(scale = "log_or", value = 0.64, ci = c(0.43, 0.96), kappa = 0, phi = 0),
  hrobjartsson2014 = list(scale = "smd", value = -0.56, ci = c(-0.71, -0.41), kappa = 0, phi = 0),
  metablind2020_participants = list(scale = "log_or", value = 0.91, ci = c(0.61, 1.35), kappa = 0.21, phi = 0.20),
  metablind2020_double = list(scale = "log_or", value = 0.99, ci = c(0.86, 1.09), kappa = 0.06, phi = 0.07),
  metablind2020_pro_benefit = list(scale = "log_or", value = 0.89, ci = c(0.57, 1.40), kappa = 0.12, phi = 0.15))

# a source on the analysis scale: shift b (> 0 exaggerates benefit), se, added variance
on_scale <- function(p, measure) {
  if (p$scale == "log_or") { b <- -log(p$value); se <- (log(p$ci[2]) - log(p$ci[1])) / (2 * Z95) }
  else { b <- -p$value; se <- (p$ci[2] - p$ci[1]) / (2 * Z95) }
  f <- 1
  if (p$scale == "log_or" && measure == "SMD") f <- CHINN
  if (p$scale == "smd" && measure != "SMD") f <- 1 / CHINN
  list(shift = b * f, se = se * f, added = (se * f)^2 + (p$kappa * f)^2 + (p$phi * f)^2)
}

fit <- function(yi, vi, method, test, subset = NULL) {
  if (!is.null(subset)) { yi <- yi[subset]; vi <- vi[subset] }
  if (length(yi) == 0) return(NULL)
  r <- rma(yi, vi, method = method, test = test, control = ctl)
  list(k = r$k, estimate = as.numeric(r$b), se = r$se, ci_lower = r$ci.lb, ci_upper = r$ci.ub,
       tau2 = if (method == "FE") NULL else r$tau2)
}

side <- function(r, s) if (s > 0) r$ci.lb else -r$ci.ub

tipping <- function(yi, vi, flag, s, method, test) {
  if (!any(flag)) return(NULL)
  g <- function(b) side(rma(yi - s * b * flag, vi, method = method, test = test, control = ctl), s)
  if (g(0) <= 0) return(NULL)
  grid <- seq(0, 10, length.out = 1001)
  for (j in 2:length(grid)) if (g(grid[j]) <= 0)
    return(uniroot(g, c(grid[j - 1], grid[j]), tol = 1e-13)$root)
  NULL
}

make_case <- function(id, dat, measure, direction, method, test, max_bang, bias, effects, data_call, arms) {
  k <- nrow(dat)
  s <- if (direction == "higher_is_better") 1 else -1
  pat <- cycle[(seq_len(k) - 1) %% length(cycle) + 1]
  control_type <- ifelse(seq_len(k) %% 2 == 1, "active_placebo", "placebo")
  bang <- function(x) if (is.null(x)) NA else (x[1] - x[2]) / sum(x)
  status <- character(k); guesses <- vector("list", k)
  for (i in seq_len(k)) {
    p <- patterns[[pat[i]]]
    if (is.null(p)) { status[i] <- "unknown"; guesses[i] <- list(NULL); next }
    be <- bang(p$e)                                   # experimental: own = guessed E
    bc <- if (is.null(p$c)) NA else (p$c[2] - p$c[1]) / sum(p$c)  # control: own = guessed C
    status[i] <- if (abs(be) > max_bang || (!is.na(bc) && abs(bc) > max_bang)) "compromised"
                 else if (is.na(bc)) "unknown" else "adequate"
    guesses[[i]] <- list(experimental = p$e, control = p$c)
  }
  flag <- status != "adequate"
  active <- control_type == "active_placebo"
  src <- if (is.null(bias$preset)) list(scale = "log_or", value = bias$ror, ci = bias$ci, kappa = 0, phi = 0)
         else presets[[bias$preset]]
  sh <- on_scale(src, measure)
  adj <- fit(dat$yi - s * sh$shift * flag, dat$vi + sh$added * flag, method, test)
  by_source <- list()
  for (nm in names(presets)) {
    q <- on_scale(presets[[nm]], measure)
    by_source[[nm]] <- c(list(shift = q$shift, added_variance = q$added),
                         fit(dat$yi - s * q$shift * flag, dat$vi + q$added * flag, method, test))
  }
  assumed <- lapply(effects, function(e) c(list(effect = e), fit(dat$yi + s * e * active, dat$vi, method, test)))
  tip <- tipping(dat$yi, dat$vi, flag, s, method, test)
  # meta-regression on the experimental arm's Bang index, where that arm has guesses
  bang_e <- sapply(seq_len(k), function(i) if (is.null(guesses[[i]])) NA else bang(guesses[[i]]$experimental))
  ok <- !is.na(bang_e)
  reg <- rma(dat$yi[ok], dat$vi[ok], mods = ~ bang_e[ok], method = method, test = test, control = ctl)
  bang_regression <- list(k = reg$k, b = as.numeric(reg$b), se = as.numeric(reg$se), ci_lower = as.numeric(reg$ci.lb),
                          ci_upper = as.numeric(reg$ci.ub), tau2 = if (method == "FE") 0 else reg$tau2,
                          qm = reg$QM, qm_p = reg$QMp,
                          call = "rma(yi[ok], vi[ok], mods = ~ bang_e[ok], method, test, control = ctl)")
  list(id = id, measure = measure, direction = direction, method = method, test = test, max_bang = max_bang,
       bias = bias, effects = effects, data_call = data_call, arms = arms,
       call = sprintf("rma(yi_adj, vi_adj, method=\"%s\", test=\"%s\", control=list(threshold=1e-12, tol=1e-12, maxiter=10000)) with yi_adj = yi - s*shift*(status != 'adequate'), vi_adj = vi + added*(status != 'adequate'); tipping: uniroot of the CI limit nearest the null over yi - s*b*flag", method, test),
       data = lapply(seq_len(k), function(i) as.list(dat[i, setdiff(names(dat), c("yi", "vi")), drop = FALSE])),
       yi = as.numeric(dat$yi), vi = as.numeric(dat$vi), guesses = guesses, pattern = pat,
       control_type = control_type, status = status,
       pooled = fit(dat$yi, dat$vi, method, test),
       restricted = fit(dat$yi, dat$vi, method, test, subset = !flag),
       active_restricted = fit(dat$yi, dat$vi, method, test, subset = active),
       bias_adjusted = c(list(shift = sh$shift, shift_se = sh$se, added_variance = sh$added), adj),
       by_source = by_source, assumed_effect = assumed, tipping_point = tip, bang_regression = bang_regression)
}

cases <- list()
data("dat.bcg", package = "metadat")
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$author <- as.character(bcg$author)
cases[[1]] <- make_case("bcg_RR_REML_knha", bcg, "RR", "lower_is_better", "REML", "knha", 0.2,
                        list(preset = "savovic2012"), c(0.1, 0.3),
                        "escalc(measure=\"RR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)", "binary")
bcgor <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcgor$author <- as.character(bcgor$author)
cases[[2]] <- make_case("bcg_OR_DL_z", bcgor, "OR", "lower_is_better", "DL", "z", 0.3,
                        list(ror = 0.7, ci = c(0.5, 0.98)), c(-0.2, 0.5),
                        "escalc(measure=\"OR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)", "binary")
data("dat.normand1999", package = "metadat")
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
nor$source <- as.character(nor$source)
cases[[3]] <- make_case("normand1999_SMD_REML_z", nor, "SMD", "lower_is_better", "REML", "z", 0.2,
                        list(preset = "hrobjartsson2014"), c(0.2),
                        "escalc(measure=\"SMD\", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999)", "continuous")
# hold-out (fitted after the implementation was fixed): magnesium trials, OR, PM and FE
data("dat.egger2001", package = "metadat")
eg <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
eg$study <- as.character(eg$study)
cases[[4]] <- make_case("holdout_egger2001_OR_PM_knha", eg, "OR", "lower_is_better", "PM", "knha", 0.2,
                        list(preset = "metablind2020_participants"), c(0.25),
                        "escalc(measure=\"OR\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.egger2001)", "binary")
cases[[5]] <- make_case("holdout_egger2001_OR_FE_z", eg, "OR", "lower_is_better", "FE", "z", 0.2,
                        list(preset = "hrobjartsson2012"), c(0.25),
                        "escalc(measure=\"OR\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.egger2001)", "binary")
out <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            metadat_version = as.character(packageVersion("metadat")),
            generated_by = "tests/reference/make_blinding_reference.R", cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
           "tests/reference/metafor_blinding_reference.json")
