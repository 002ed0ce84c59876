# lme4's Laplace approximation (nAGQ = 1) of UM.RS, the model metafor 3.8.1's
# rma.glmm(model = "UM.RS") fits, called directly with tight controls, so that metak's
# nagq = 1 can be checked at 1e-4 (metafor's own call, pinned in metafor_glmm_reference.json,
# leaves glmer's PIRLS tolerance at its default 1e-7 and its optimiser ~4e-4 short on li2007).
#   Rscript tests/reference/make_glmm_laplace_reference.R   (from the repository root)
# Model (metafor's coding, rma.glmm source): cbind(y, n - y) ~ -1 + group1 + const +
# (group12 || study) for method ML (uncorrelated random intercept and random group12 slope,
# group12 = +1/2, -1/2), + (1 | study) only for method FE; trials with no events (or all
# events) in both arms left out, as metafor leaves them out.
# Controls: bobyqa rhobeg 0.1, rhoend 1e-12, PIRLS tolPwrss 1e-10; vcov() is lme4's
# finite-difference Hessian of the Laplace deviance in (theta, beta) (use.hessian = TRUE).
#
# Added (issue 27, why lme4's SEs differ from metak's nagq = 1 by up to 3.7e-3):
# - "textbook": the Laplace approximation written out independently of lme4
#   (glmm_laplace_textbook.R), maximised from lme4's estimates by Newton steps on numDeriv's
#   Richardson gradient and Hessian; SEs from that Hessian (2 solve(H), as lme4's vcov).
# - "lme4_minus_textbook_deviance": lme4's devfun minus the textbook deviance at lme4's
#   optimum, and "pirls_iterations" there: lme4's PIRLS (src/external.cpp pwrssUpdate)
#   stops when the penalised deviance changes by less than tolPwrss (relative) between two
#   iterations and evaluates log det(L) with the Cholesky factor of the weights at the START of
#   the last iteration, i.e. one iterate before the mode. Near the optimum PIRLS starts close to
#   the modes and stops after 2 iterations, so that log-determinant is off by ~1e-5 and the
#   offset varies smoothly with the parameters: it moves the optimum by up to 1e-4 and the
#   curvature (the SEs) by up to 0.4%.
# - "tolPwrss_1e-12": the same glmer fit with tolPwrss = 1e-12 (PIRLS then takes one more
#   iteration and log det(L) is at the mode): it agrees with "textbook".
# - "heterogeneity": metafor's QE.Wld and QE.LRT for UM.RS (rma.glmm source, model UM.RS): the
#   common-effect model glmer(~ -1 + group1 + const + (1 | study)) against the saturated
#   glmer(~ -1 + X.QE + (1 | study)) with X.QE = model.matrix(~ -1 + group1 + const +
#   study:group1), aliased columns dropped (by glm), started at the FE model's sigma;
#   QE.LRT = -2 (ll.FE - ll.QE), QE.Wld = b' V^-1 b over the study:group1 coefficients with V
#   from vcov(); fitted at nAGQ = 1 (what metafor runs) with tolPwrss 1e-12, and at nAGQ = 25;
#   "wald_richardson" uses numDeriv's Richardson Hessian of the saturated devfun instead of
#   lme4's finite-difference one; "QE_Wld_rx" with vcov(use.hessian = FALSE), the covariance
#   given theta that vcov() falls back to when that Hessian is not positive definite.
suppressPackageStartupMessages({library(lme4); library(metadat); library(jsonlite); library(numDeriv)})
source("tests/reference/glmm_laplace_textbook.R")

ctl <- list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.1, rhoend = 1e-12, maxfun = 1e6), tolPwrss = 1e-10,
            boundary.tol = 0, check.conv.grad = lme4::.makeCC("ignore", tol = 1e-3))
ctl12 <- modifyList(ctl, list(tolPwrss = 1e-12))
datasets <- list(
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  collins1985a = with(subset(dat.collins1985a, !is.na(b.xti) & !is.na(b.xci)),
                      list(ai = b.xti, n1i = nti, ci = b.xci, n2i = nci)),
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg)))
pirls_steps <- function(devfun, par) {
  e <- environment(devfun); e$verbose <- 3L
  out <- capture.output(devfun(par)); e$verbose <- 0L
  length(grep("pwrssUpdate step", out))
}
fits <- list(); het <- list()
for (name in names(datasets)) {
  a <- datasets[[name]]
  keep <- !((a$ai == 0 & a$ci == 0) | (a$ai == a$n1i & a$ci == a$n2i))
  k <- sum(keep)
  d <- data.frame(y = c(rbind(a$ai[keep], a$ci[keep])), n = c(rbind(a$n1i[keep], a$n2i[keep])),
                  group1 = rep(c(1, 0), k), group12 = rep(c(1/2, -1/2), k), const = 1,
                  study = factor(rep(seq_len(k), each = 2)))
  for (method in c("ML", "FE")) {
    form <- if (method == "ML") cbind(y, n - y) ~ -1 + group1 + const + (group12 || study)
            else cbind(y, n - y) ~ -1 + group1 + const + (1 | study)
    m <- glmer(form, data = d, family = binomial, nAGQ = 1, control = do.call(glmerControl, ctl))
    th <- getME(m, "theta")
    entry <- list(
      dataset = name, method = method, k = k,
      call = paste0("glmer(", deparse1(form), ", family = binomial, nAGQ = 1, control = <tight, see script>)"),
      estimate = unname(fixef(m)["group1"]), se = unname(sqrt(diag(as.matrix(vcov(m))))[1]),
      sigma2 = unname(th[1]^2), tau2 = if (method == "ML") unname(th[2]^2) else 0,
      loglik = as.numeric(logLik(m)))
    # the textbook Laplace approximation, and lme4's devfun against it
    nth <- length(th)
    par <- unname(c(th, fixef(m)))
    devf <- glmer(form, data = d, family = binomial, nAGQ = 1, control = do.call(glmerControl, ctl), devFunOnly = TRUE)
    f <- function(p) lapdev(d$y, d$n, p[nth + 2] + d$group1 * p[nth + 1], p[1], if (nth == 2) p[2] else 0)
    entry$lme4_minus_textbook_deviance <- devf(par) - f(par)
    entry$pirls_iterations <- pirls_steps(devf, par)
    # lme4's SE from an accurate (Richardson) Hessian of lme4's own devfun, against vcov()'s
    # deriv12 Hessian (central differences, step 1e-4)
    entry$se_richardson_lme4_devfun <- sqrt((2 * solve(numDeriv::hessian(devf, par)))[nth + 1, nth + 1])
    tb <- polish(f, par, lower = c(rep(0, nth), -Inf, -Inf))
    V <- 2 * solve(tb$hessian)
    entry$textbook <- list(estimate = tb$par[nth + 1], se = sqrt(V[nth + 1, nth + 1]), sigma2 = tb$par[1]^2,
                           tau2 = if (nth == 2) tb$par[2]^2 else 0, loglik = -tb$value / 2,
                           max_abs_gradient = max(abs(tb$grad)))
    m12 <- tryCatch(glmer(form, data = d, family = binomial, nAGQ = 1, control = do.call(glmerControl, ctl12)),
                    error = function(e) e)
    entry[["tolPwrss_1e-12"]] <- if (inherits(m12, "error")) list(error = conditionMessage(m12)) else {
      t12 <- getME(m12, "theta")
      list(estimate = unname(fixef(m12)["group1"]), se = unname(sqrt(diag(as.matrix(vcov(m12))))[1]),
           sigma2 = unname(t12[1]^2), tau2 = if (method == "ML") unname(t12[2]^2) else 0,
           loglik = as.numeric(logLik(m12)))
    }
    fits[[length(fits) + 1]] <- entry
  }
  # metafor's heterogeneity tests for UM.RS
  X.QE <- model.matrix(~ -1 + group1 + const + study:group1, data = d)
  # aliased column (the last study:group1) found by glm at its default control: with a tighter
  # epsilon glm runs off towards infinity on studies with no events in an arm and misses it
  g <- suppressWarnings(glm(cbind(y, n - y) ~ -1 + X.QE, data = d, family = binomial))
  X.QE <- X.QE[, !is.na(coef(g)), drop = FALSE]
  stopifnot(ncol(X.QE) == k + 1)
  d$X.QE <- X.QE
  for (nagq in c(1L, 25L)) {
    # tolPwrss 1e-12 where PIRLS reaches it (not on bcg: step halvings fail there), else 1e-10
    for (cq in list(ctl12, ctl)) {
      fe <- glmer(cbind(y, n - y) ~ -1 + group1 + const + (1 | study), data = d, family = binomial, nAGQ = nagq,
                  control = do.call(glmerControl, cq))
      qe <- tryCatch(suppressWarnings(glmer(cbind(y, n - y) ~ -1 + X.QE + (1 | study), data = d, family = binomial,
                                            nAGQ = nagq, start = list(theta = sqrt(VarCorr(fe)[[1]][1])),
                                            control = do.call(glmerControl, cq))),
                     error = function(e) e)
      if (!inherits(qe, "error")) break
    }
    h <- list(dataset = name, nAGQ = nagq, k = k, df = k - 1, tolPwrss = cq$tolPwrss,
              call = "glmer(cbind(y, n - y) ~ -1 + X.QE + (1 | study), start = sigma of the FE model, control = <tight, see script>)",
              ll_fe = as.numeric(logLik(fe)))
    if (inherits(qe, "error")) {
      h$error <- conditionMessage(qe)
    } else {
      b2 <- fixef(qe)[-(1:2)]
      vb2 <- as.matrix(suppressWarnings(vcov(qe)))[-(1:2), -(1:2), drop = FALSE]
      h$ll_qe <- as.numeric(logLik(qe))
      h$QE_LRT <- max(0, -2 * (h$ll_fe - h$ll_qe))
      h$QE_Wld <- max(0, c(t(b2) %*% chol2inv(chol(vb2)) %*% b2))
      h$sigma2_qe <- getME(qe, "theta")[[1]]^2
      # vcov() falls back to the covariance given theta from PIRLS (RX) when lme4's
      # finite-difference Hessian is not positive definite (a study whose treatment arm has no
      # events: its coefficient runs off to ~-35 and the Hessian is singular there)
      h$hessian_min_eigenvalue <- min(eigen(qe@optinfo$derivs$Hessian, only.values = TRUE)$values)
      vrx <- as.matrix(vcov(qe, use.hessian = FALSE))[-(1:2), -(1:2), drop = FALSE]
      h$QE_Wld_rx <- tryCatch(c(t(b2) %*% chol2inv(chol(vrx)) %*% b2), error = function(e) NULL)
      devq <- glmer(cbind(y, n - y) ~ -1 + X.QE + (1 | study), data = d, family = binomial, nAGQ = nagq,
                    control = do.call(glmerControl, cq), devFunOnly = TRUE)
      pq <- unname(c(getME(qe, "theta"), fixef(qe)))
      Hq <- numDeriv::hessian(devq, pq)
      Vq <- tryCatch((2 * solve(Hq))[-(1:3), -(1:3), drop = FALSE], error = function(e) NULL)
      h$wald_richardson <- if (is.null(Vq)) NULL else c(t(b2) %*% solve(Vq, b2))
      h$max_abs_b2 <- max(abs(b2))
      if (nagq == 1L) {
        # the textbook Laplace saturated model, parameters (sigma, beta_c, theta_i of the studies with
        # events and non-events in the treatment arm); a study with no events (or only events) there
        # has theta_i at -Inf (+Inf): its treatment arm enters at its supremum, probability 1 (the
        # limit that glmer's coefficient near -35 approximates), i.e. it is dropped
        edge <- a$ai[keep] == 0 | a$ai[keep] == a$n1i[keep]
        y2 <- d$y; n2 <- d$n
        y2[2 * which(edge) - 1] <- 0; n2[2 * which(edge) - 1] <- 0
        free <- which(!edge); m2 <- length(free)
        fs <- function(p) { th <- numeric(k); th[free] <- p[-(1:2)]
                            lapdev(y2, n2, p[2] + d$group1 * rep(th, each = 2), p[1], 0) }
        p0 <- c(getME(qe, "theta"), fixef(qe)[2], (fixef(qe)[1] + c(fixef(qe)[-(1:2)], 0))[free])
        ts <- polish(fs, unname(p0), lower = c(0, rep(-Inf, m2 + 1)))
        # sigma at the boundary 0 (collins1985a): its row is left out (even function, no cross terms)
        par_rows <- if (ts$par[1] > 1e-8) seq_len(m2 + 2) else seq_len(m2 + 2)[-1]
        Vs <- matrix(0, m2 + 2, m2 + 2)
        Vs[par_rows, par_rows] <- 2 * solve(ts$hessian[par_rows, par_rows])
        C <- cbind(diag(m2 - 1), -1)  # theta_i - theta_last, the contrasts metafor's b2.QE estimates
        bs <- C %*% ts$par[-(1:2)]
        h$textbook <- list(ll_qe = -ts$value / 2, ll_fe = fits[[length(fits)]]$textbook$loglik,
                           QE_Wld = c(t(bs) %*% solve(C %*% Vs[-(1:2), -(1:2)] %*% t(C), bs)),
                           sigma2_qe = ts$par[1]^2, max_abs_gradient = max(abs(ts$grad[par_rows])),
                           studies_left_out_of_wald = sum(edge))
        h$textbook$QE_LRT <- -2 * (h$textbook$ll_fe - h$textbook$ll_qe)
      }
    }
    het[[length(het) + 1]] <- h
  }
}
# the same heterogeneity tests for IRR (Poisson counts, offset log person-time; rma.glmm's own
# UM.RS IRR fit fails in metafor 3.8.1 with "$ operator is invalid for atomic vectors", so
# glmer is called directly with metafor's model), nAGQ = 1 and 25
irr <- list(nielweise2008 = with(dat.nielweise2008, list(x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i)),
            hart1999 = with(dat.hart1999, list(x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i)))
het_irr <- list()
for (name in names(irr)) {
  a <- irr[[name]]
  keep <- !(a$x1i == 0 & a$x2i == 0)
  k <- sum(keep)
  d <- data.frame(y = c(rbind(a$x1i[keep], a$x2i[keep])), lt = log(c(rbind(a$t1i[keep], a$t2i[keep]))),
                  group1 = rep(c(1, 0), k), const = 1, study = factor(rep(seq_len(k), each = 2)))
  X.QE <- model.matrix(~ -1 + group1 + const + study:group1, data = d)
  g <- suppressWarnings(glm(y ~ -1 + X.QE, offset = lt, data = d, family = poisson))
  X.QE <- X.QE[, !is.na(coef(g)), drop = FALSE]
  stopifnot(ncol(X.QE) == k + 1)
  d$X.QE <- X.QE
  for (nagq in c(1L, 25L)) {
    for (cq in list(ctl12, ctl)) {
      fe <- glmer(y ~ -1 + group1 + const + (1 | study), offset = lt, data = d, family = poisson, nAGQ = nagq,
                  control = do.call(glmerControl, cq))
      qe <- tryCatch(suppressWarnings(glmer(y ~ -1 + X.QE + (1 | study), offset = lt, data = d, family = poisson,
                                            nAGQ = nagq, start = list(theta = sqrt(VarCorr(fe)[[1]][1])),
                                            control = do.call(glmerControl, cq))), error = function(e) e)
      if (!inherits(qe, "error")) break
    }
    b2 <- fixef(qe)[-(1:2)]
    vb2 <- as.matrix(suppressWarnings(vcov(qe)))[-(1:2), -(1:2), drop = FALSE]
    het_irr[[length(het_irr) + 1]] <- list(
      dataset = name, nAGQ = nagq, k = k, df = k - 1, tolPwrss = cq$tolPwrss,
      ll_fe = as.numeric(logLik(fe)), ll_qe = as.numeric(logLik(qe)),
      QE_LRT = max(0, -2 * (as.numeric(logLik(fe)) - as.numeric(logLik(qe)))),
      QE_Wld = max(0, c(t(b2) %*% chol2inv(chol(vb2)) %*% b2)), sigma2_qe = getME(qe, "theta")[[1]]^2,
      hessian_min_eigenvalue = min(eigen(qe@optinfo$derivs$Hessian, only.values = TRUE)$values),
      max_abs_b2 = max(abs(b2)))
  }
}
out <- list(generated_by = "tests/reference/make_glmm_laplace_reference.R", r_version = R.version.string,
            lme4 = as.character(packageVersion("lme4")), metadat = as.character(packageVersion("metadat")),
            numDeriv = as.character(packageVersion("numDeriv")),
            why_lme4_differs = paste(
              "lme4's PIRLS (src/external.cpp pwrssUpdate) stops when the penalised deviance changes by less than",
              "tolPwrss (relative) between two iterations, and Laplace() uses log det L from the weights at the start",
              "of the last iteration, one iterate before the conditional modes (modes, sqrL and the binomial term agree",
              "with the textbook to 1e-11). The offset (lme4_minus_textbook_deviance) is up to 2.2e-5 where PIRLS stops",
              "after 2 iterations at the optimum (pirls_iterations), depends on PIRLS's start and jumps where the",
              "iteration count changes: it moves lme4's optimum by up to 9e-5 and, through vcov()'s central-difference",
              "Hessian (step 1e-4), its SEs by 1.1e-3 to 3.7e-3 (collins1985a FE, bcg ML and FE). metafor's rma.glmm",
              "reports lme4's fixef and vcov, so its UM.RS SEs carry the same error. 'textbook' is the Laplace",
              "approximation written out independently (glmm_laplace_textbook.R), the reference for metak's nagq = 1."),
            control = ctl[c("optimizer", "optCtrl", "tolPwrss")], fits = fits, heterogeneity = het,
            heterogeneity_irr = het_irr)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/glmm_laplace_reference.json")
