# The profile-likelihood CI of tau² for UM.RS (random study intercepts N(beta0, sigma²) and a
# random treatment effect N(mu, tau²), uncorrelated; metafor's rma.glmm model "UM.RS"), written
# out in R independently of metak and of lme4, for tests/test_glmm_rs_profile.py.
#   Rscript tests/reference/make_glmm_rs_profile_reference.R   (from the repository root)
# Writes tests/reference/glmm_rs_profile_reference.json.
#
# Two likelihoods of the same model (per study i, spherical random effects u = (u1, u2) ~ N(0, I),
# eta_arm = eta0_arm + s u1 + group12_arm t u2, group12 = +1/2 treatment, -1/2 control,
# eta0 = beta0 + group1 mu; s = sigma, t = tau; binomial arms):
# - "laplace": the textbook Laplace approximation (lapdev in glmm_laplace_textbook.R, as in
#   make_glmm_laplace_reference.R; metak's nagq = 1);
# - "agq": adaptive product Gauss-Hermite quadrature written here (agqdev): per study the exact
#   mode u^ of the log integrand (Newton, steps below 1e-13), A = Z'W(u^)Z + I = L L' (lower
#   Cholesky), nodes u = u^ + sqrt(2) L^-T x on the n x n product of Gauss-Hermite nodes x
#   (Golub-Welsch: eigenvalues of the Jacobi matrix, not numpy's or statmod's table), so
#   log L_i = log sum_j w_j e^{|x_j|^2} e^{h(u_j)} + log(2 / det L). n = 15 is metak's default
#   rule; n = 25 shows the rule's own error (agq_25_minus_15 per dataset).
# Profile: dev_p(t) = min over (beta0, mu, log s) of the deviance (-2 log L) at fixed t: optim BFGS
# (numDeriv gradient, reltol 1e-15) from the previous profile point's solution, then Newton steps
# on numDeriv's Richardson gradient and Hessian (polish in glmm_laplace_textbook.R) to a gradient
# below 1e-8. Maximum: the same polish in (s, t, beta0, mu) with t >= 0, compared with dev_p(0).
# CI of tau: {t : dev_p(t) - dev_hat <= qchisq(level, 1)}, uniroot (tol 1e-11) on [0, t_hat] when
# dev_p(0) is beyond the cutoff (else the lower bound is 0) and on [t_hat, hi], hi doubled from
# max(2 t_hat, 0.1) until beyond the cutoff (never past 20: then the bound is null = infinite).
# tau2_ci = the bounds squared.
# lme4: glmer(nAGQ = 1) with tight controls and profile(fit, which = "theta_") / confint on the
# treatment-effect SD, for comparison only (its deviance carries lme4's PIRLS offset: docs/glmm.md).
suppressPackageStartupMessages({library(lme4); library(metadat); library(jsonlite); library(numDeriv)})
source("tests/reference/glmm_laplace_textbook.R")

LEVEL <- 0.95
CUT <- qchisq(LEVEL, 1)

gh_rule <- function(n) {  # Golub-Welsch for the weight exp(-x^2)
  J <- matrix(0, n, n)
  b <- sqrt(seq_len(n - 1) / 2)
  J[cbind(1:(n - 1), 2:n)] <- b; J[cbind(2:n, 1:(n - 1))] <- b
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(x = e$values[o], w = sqrt(pi) * e$vectors[1, o]^2)
}

agqdev <- function(y, n, eta0, s, t, rule) {
  kk <- length(y) / 2
  iT <- seq(1, 2 * kk, 2); iC <- iT + 1
  hval <- function(u1, u2) {  # u1, u2: kk x m matrices (or vectors)
    eT <- eta0[iT] + s * u1 + t * u2 / 2; eC <- eta0[iC] + s * u1 - t * u2 / 2
    dbinom(y[iT], n[iT], plogis(eT), log = TRUE) + dbinom(y[iC], n[iC], plogis(eC), log = TRUE) -
      (u1^2 + u2^2) / 2 - log(2 * pi)
  }
  u1 <- numeric(kk); u2 <- numeric(kk); h <- hval(u1, u2)
  for (it in 1:500) {
    eT <- eta0[iT] + s * u1 + t * u2 / 2; eC <- eta0[iC] + s * u1 - t * u2 / 2
    pT <- plogis(eT); pC <- plogis(eC)
    rT <- y[iT] - n[iT] * pT; rC <- y[iC] - n[iC] * pC
    wT <- n[iT] * pT * (1 - pT); wC <- n[iC] * pC * (1 - pC)
    g1 <- s * (rT + rC) - u1; g2 <- t * (rT - rC) / 2 - u2
    a11 <- s^2 * (wT + wC) + 1; a22 <- t^2 * (wT + wC) / 4 + 1; a12 <- s * t * (wT - wC) / 2
    det <- a11 * a22 - a12^2
    d1 <- (a22 * g1 - a12 * g2) / det; d2 <- (a11 * g2 - a12 * g1) / det
    for (hh in 1:60) {
      hn <- hval(u1 + d1, u2 + d2); bad <- !is.finite(hn) | hn < h - 1e-13 * abs(h)
      if (!any(bad)) break
      d1[bad] <- d1[bad] / 2; d2[bad] <- d2[bad] / 2
    }
    u1 <- u1 + d1; u2 <- u2 + d2; h <- hn
    if (max(abs(c(d1, d2))) < 1e-13) break
  }
  eT <- eta0[iT] + s * u1 + t * u2 / 2; eC <- eta0[iC] + s * u1 - t * u2 / 2
  pT <- plogis(eT); pC <- plogis(eC)
  wT <- n[iT] * pT * (1 - pT); wC <- n[iC] * pC * (1 - pC)
  a11 <- s^2 * (wT + wC) + 1; a22 <- t^2 * (wT + wC) / 4 + 1; a12 <- s * t * (wT - wC) / 2
  l11 <- sqrt(a11); l21 <- a12 / l11; l22 <- sqrt(a22 - l21^2)
  m <- length(rule$x)
  X1 <- rep(rule$x, each = m); X2 <- rep(rule$x, times = m)
  lw <- log(rep(rule$w, each = m)) + log(rep(rule$w, times = m)) + X1^2 + X2^2
  # u = u^ + sqrt(2) L^-T x; L^-T = [[1/l11, -l21/(l11 l22)], [0, 1/l22]]
  y2 <- sqrt(2) * outer(1 / l22, X2)
  y1 <- (sqrt(2) * outer(rep(1, kk), X1) - l21 * y2) / l11
  H <- hval(u1 + y1, u2 + y2)
  terms <- H + matrix(lw, kk, m * m, byrow = TRUE)
  mx <- apply(terms, 1, max)
  logL <- mx + log(rowSums(exp(terms - mx))) + log(2) - log(l11 * l22)
  -2 * sum(logL)
}

datasets <- list(
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg)),
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  collins1985a = with(subset(dat.collins1985a, !is.na(b.xti) & !is.na(b.xci)),
                      list(ai = b.xti, n1i = nti, ci = b.xci, n2i = nci)),
  hahn2001 = with(dat.hahn2001, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)))
rules <- list(laplace = NULL, agq = 15L)
agq_check <- c("bcg", "hahn2001")  # the 25 x 25 rule too

profile_ci <- function(dev4, start) {
  # dev4(s, t, beta0, mu); start = c(s, t, beta0, mu)
  fit <- polish(function(p) dev4(p[1], p[2], p[3], p[4]), start, lower = c(0, 0, -Inf, -Inf), iters = 40)
  last <- c(fit$par[3], fit$par[4], log(fit$par[1]))
  cache <- list()
  dev_p <- function(t) {
    key <- sprintf("%.17g", t)
    if (!is.null(cache[[key]])) return(cache[[key]]$value)
    f3 <- function(p) dev4(exp(p[3]), t, p[1], p[2])
    o <- optim(last, f3, gr = function(p) numDeriv::grad(f3, p), method = "BFGS",
               control = list(reltol = 1e-15, maxit = 1000))
    pl <- polish(f3, o$par, iters = 30)
    last <<- pl$par
    cache[[key]] <<- list(value = pl$value, grad = max(abs(pl$grad)), par = pl$par)
    pl$value
  }
  t_hat <- fit$par[2]; dev_hat <- fit$value
  d0 <- dev_p(0)
  if (t_hat < 1e-6 || d0 <= dev_hat + 1e-10) { t_hat <- 0; dev_hat <- min(dev_hat, d0) }
  f <- function(t) dev_p(t) - dev_hat - CUT
  lower <- if (t_hat > 0 && f(0) > 0) uniroot(f, c(0, t_hat), tol = 1e-11)$root else 0
  hi <- min(max(2 * t_hat, 0.1), 20); lo <- t_hat; upper <- NULL
  repeat {
    if (f(hi) > 0) { upper <- uniroot(f, c(lo, hi), tol = 1e-11)$root; break }
    if (hi >= 20) break
    lo <- hi; hi <- min(2 * hi, 20)
  }
  grads <- sapply(cache, function(e) e$grad)
  list(tau_hat = t_hat, tau2_hat = t_hat^2, sigma2_hat = fit$par[1]^2, estimate = fit$par[4],
       loglik = -dev_hat / 2, max_abs_gradient_fit = max(abs(fit$grad)),
       dev_profile_at_0_minus_dev_hat = d0 - dev_hat,
       tau_ci = list(lower, upper), tau2_ci = list(lower^2, if (is.null(upper)) NULL else upper^2),
       profile_points = length(cache), max_abs_gradient_profile = max(grads))
}

# lme4's own deviance (devFunOnly, nAGQ = 1: c(theta, fixef)) profiled exactly in the same way:
# bobyqa over (sigma, beta_group1, beta_const) at fixed tau (rhoend 1e-10, from the previous point),
# uniroot on each side; separates lme4's deviance offset from profile()'s spline interpolation
lme4_exact_profile <- function(devf, th, fe) {
  last <- c(th[1], fe)
  dev_hat <- devf(c(th, fe))
  dev_p <- function(t) {
    o <- minqa::bobyqa(last, function(p) devf(c(p[1], t, p[2], p[3])), lower = c(0, -Inf, -Inf),
                       control = list(rhobeg = 0.02, rhoend = 1e-10, maxfun = 1e5))
    last <<- o$par
    o$fval
  }
  t_hat <- th[2]
  f <- function(t) dev_p(t) - dev_hat - CUT
  lower <- if (t_hat > 1e-6 && f(0) > 0) uniroot(f, c(0, t_hat), tol = 1e-11)$root else 0
  hi <- min(max(2 * t_hat, 0.1), 20); lo <- t_hat; upper <- NULL
  repeat {
    if (f(hi) > 0) { upper <- uniroot(f, c(lo, hi), tol = 1e-11)$root; break }
    if (hi >= 20) break
    lo <- hi; hi <- min(2 * hi, 20)
  }
  list(tau2_ci = list(lower^2, if (is.null(upper)) NULL else upper^2))
}

results <- list(); lme4_out <- list(); agq_rule_error <- list(); inputs <- list()
ctl <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.1, rhoend = 1e-12, maxfun = 1e6),
                    tolPwrss = 1e-10, boundary.tol = 0, check.conv.grad = lme4::.makeCC("ignore", tol = 1e-3))
for (name in names(datasets)) {
  a <- datasets[[name]]
  inputs[[name]] <- a
  keep <- !((a$ai == 0 & a$ci == 0) | (a$ai == a$n1i & a$ci == a$n2i))
  k <- sum(keep)
  y <- c(rbind(a$ai[keep], a$ci[keep])); n <- c(rbind(a$n1i[keep], a$n2i[keep]))
  group1 <- rep(c(1, 0), k)
  d <- data.frame(y = y, n = n, group1 = group1, group12 = rep(c(1/2, -1/2), k), const = 1,
                  study = factor(rep(seq_len(k), each = 2)))
  m <- glmer(cbind(y, n - y) ~ -1 + group1 + const + (group12 || study), data = d, family = binomial, nAGQ = 1,
             control = ctl)
  th <- getME(m, "theta"); fe <- fixef(m)
  start <- unname(c(max(th[1], 0.05), max(th[2], 0.05), fe["const"], fe["group1"]))
  for (rule in names(rules)) {
    nodes <- if (rule == "laplace") 1L else rules[[rule]]
    gh <- if (nodes > 1) gh_rule(nodes) else NULL
    dev4 <- if (nodes == 1) function(s, t, b0, mu) lapdev(y, n, b0 + group1 * mu, s, t)
            else function(s, t, b0, mu) agqdev(y, n, b0 + group1 * mu, s, t, gh)
    t0 <- proc.time()[["elapsed"]]
    r <- profile_ci(dev4, start)
    r$seconds <- proc.time()[["elapsed"]] - t0
    results[[length(results) + 1]] <- c(list(dataset = name, k = k, rule = rule, nagq = nodes, level = LEVEL), r)
    if (rule == "agq" && name %in% agq_check) {
      gh25 <- gh_rule(25L)
      r25 <- profile_ci(function(s, t, b0, mu) agqdev(y, n, b0 + group1 * mu, s, t, gh25), start)
      agq_rule_error[[name]] <- list(
        nagq = 25L, tau2_ci = r25$tau2_ci, loglik = r25$loglik,
        rel_diff_tau2_ci_25_vs_15 = unlist(Map(function(a, b) if (is.null(a)) NA else abs(a - b) / b,
                                               r$tau2_ci, r25$tau2_ci)))
    }
  }
  # lme4's own profile of the treatment-effect SD (.sig02), nAGQ = 1
  warns <- character(0)
  pr <- tryCatch(withCallingHandlers(
    profile(m, which = "theta_", signames = FALSE, alphamax = 0.001, maxpts = 200, delta.cutoff = 1/32),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") }),
    error = function(e) e)
  devf <- glmer(cbind(y, n - y) ~ -1 + group1 + const + (group12 || study), data = d, family = binomial, nAGQ = 1,
                control = ctl, devFunOnly = TRUE)
  exact <- lme4_exact_profile(devf, unname(th), unname(fe))
  tb <- results[[length(results) - 1]]$tau2_ci  # the textbook Laplace interval of this dataset
  rel <- function(a, b) unlist(Map(function(x, y) if (is.null(x) || is.null(y) || y == 0) NA else x / y - 1, a, b))
  lme4_out[[name]] <- if (inherits(pr, "error")) list(error = conditionMessage(pr)) else {
    ci <- suppressWarnings(confint(pr, level = LEVEL))
    row <- ci[grep("sig02|group12", rownames(ci)), , drop = FALSE]
    p2 <- as.list(unname(as.numeric(row[1, ])^2))
    list(warnings = warns, devfun_exact_tau2_ci = exact$tau2_ci,
         rel_diff_profile_vs_textbook = rel(p2, tb), rel_diff_devfun_exact_vs_textbook = rel(exact$tau2_ci, tb),
         rel_diff_profile_vs_devfun_exact = rel(p2, exact$tau2_ci),
         call = paste("profile(glmer(cbind(y, n - y) ~ -1 + group1 + const + (group12 || study), nAGQ = 1,",
                      "control = <tight>), which = 'theta_', signames = FALSE, alphamax = 0.001, maxpts = 200,",
                      "delta.cutoff = 1/32); confint(level = 0.95)"),
         rows = rownames(row), tau_ci = unname(as.numeric(row[1, ])), tau2_ci = unname(as.numeric(row[1, ])^2),
         tau2_hat = unname(th[2]^2))
  }
}
out <- list(
  generated_by = "tests/reference/make_glmm_rs_profile_reference.R", r_version = R.version.string,
  lme4 = as.character(packageVersion("lme4")), metadat = as.character(packageVersion("metadat")),
  numDeriv = as.character(packageVersion("numDeriv")), level = LEVEL, chi2_cutoff = CUT,
  calls = list(
    laplace = "lapdev(y, n, beta0 + group1 * mu, sigma, tau) (glmm_laplace_textbook.R)",
    agq = "agqdev(y, n, beta0 + group1 * mu, sigma, tau, gh_rule(15)) (this script)",
    profile = paste("optim(c(beta0, mu, log sigma), dev at fixed tau, gr = numDeriv::grad, method = 'BFGS',",
                    "control = list(reltol = 1e-15, maxit = 1000)) from the previous point, then polish()"),
    roots = "uniroot(dev_p(tau) - dev_hat - qchisq(0.95, 1), tol = 1e-11) on each side of tau_hat"),
  notes = paste(
    "Datasets: metadat's dat.bcg (tpos/tneg, cpos/cneg), dat.nielweise2007, dat.li2007, dat.collins1985a",
    "(rows with b.xti and b.xci), dat.hahn2001; trials with no events or only events in both arms left out",
    "(as rma.glmm). collins1985a has tau_hat > 0 with the profile at tau = 0 within the cutoff (lower bound 0);",
    "hahn2001 has tau_hat = 0. lme4: profile() of glmer's Laplace deviance (nAGQ = 1) in the treatment-effect SD;",
    "it is not the textbook Laplace deviance: lme4's PIRLS evaluates log det L one iterate before the",
    "conditional modes (docs/glmm.md), an offset of up to ~2e-5 in deviance that varies with the parameters",
    "and jumps where PIRLS's iteration count changes, and profile() interpolates its profile with splines",
    "between the points it computes; its bounds are for comparison only (lme4_profile)."),
  lme4_gap = paste(
    "lme4_profile.devfun_exact_tau2_ci profiles lme4's own nAGQ = 1 deviance (devFunOnly) exactly, as above",
    "(bobyqa rhoend 1e-10 at each tau, uniroot): it is within 3.4e-6 (bcg, where PIRLS's offset is largest)",
    "and 1e-6 elsewhere of the textbook Laplace interval, so lme4's deviance offset moves the bounds by",
    "<= 3.4e-6 relative. profile() + confint() differ from the textbook by up to 7.3e-3 (nielweise2007's",
    "lower bound) and 9.1e-4 (hahn2001's upper bound, where profile() warns of a non-monotonic profile at",
    "the boundary tau = 0), 2.6e-5 on li2007 and 1.7e-5 on bcg: that gap is profile()'s own procedure (its",
    "spline interpolation of the signed square-root deviance between the points it computes, and its",
    "optimiser's stopping at each point), not the likelihood. rel_diff_* = lme4 / textbook - 1 per bound."),
  inputs = inputs, fits = results, agq_rule_error = agq_rule_error, lme4_profile = lme4_out)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/reference/glmm_rs_profile_reference.json")
