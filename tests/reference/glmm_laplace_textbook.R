# The textbook Laplace approximation of metafor's UM.RS likelihood, written out independently of
# lme4 (sourced by make_glmm_laplace_reference.R). Per study i, with the fixed linear predictor
# eta0 of its two arms (treatment first) and the spherical random effects u = (u1, u2) ~ N(0, I):
#   eta_arm = eta0_arm + s u1 + group12_arm t u2,   group12 = (+1/2, -1/2)
# (s, t = lme4's theta: the SDs of the random intercept and of the random group12 slope), and
#   log L_i ~ l_i(u^) - |u^|^2 / 2 - log det(A_i) / 2,   A_i = Z_i' W_i(u^) Z_i + I,
# u^ the exact mode of the log integrand (Newton, step halving, steps below 1e-13), W the
# binomial weights n p (1 - p) at u^, l_i the full binomial log-likelihood (dbinom).
# Deviance = -2 sum_i log L_i, the scale of lme4's devfun.
lapdev <- function(y, n, eta0, s, t) {
  kk <- length(y) / 2
  iT <- seq(1, 2 * kk, 2); iC <- iT + 1
  u1 <- numeric(kk); u2 <- numeric(kk)
  hval <- function(u1, u2) {
    eT <- eta0[iT] + s * u1 + t * u2 / 2; eC <- eta0[iC] + s * u1 - t * u2 / 2
    dbinom(y[iT], n[iT], plogis(eT), log = TRUE) + dbinom(y[iC], n[iC], plogis(eC), log = TRUE) - (u1^2 + u2^2) / 2
  }
  h <- hval(u1, u2)
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
  -2 * sum(hval(u1, u2) - log(a11 * a22 - a12^2) / 2)
}
# Newton polish of a deviance function from a start, with numDeriv's Richardson gradient and Hessian
polish <- function(f, x, lower = -Inf, iters = 20) {
  for (i in 1:iters) {
    g <- numDeriv::grad(f, x); H <- numDeriv::hessian(f, x)
    st <- -solve(H, g)
    xn <- pmax(x + st, lower)
    if (f(xn) > f(x) + 1e-12) { st <- st / 4; xn <- pmax(x + st, lower) }
    x <- xn
    if (max(abs(st)) < 1e-11) break
  }
  H <- numDeriv::hessian(f, x)
  list(par = x, value = f(x), hessian = H, grad = numDeriv::grad(f, x))
}
