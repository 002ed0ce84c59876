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
suppressPackageStartupMessages({library(lme4); library(metadat); library(jsonlite)})

ctl <- list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.1, rhoend = 1e-12, maxfun = 1e6), tolPwrss = 1e-10,
            boundary.tol = 0, check.conv.grad = lme4::.makeCC("ignore", tol = 1e-3))
datasets <- list(
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i)),
  collins1985a = with(subset(dat.collins1985a, !is.na(b.xti) & !is.na(b.xci)),
                      list(ai = b.xti, n1i = nti, ci = b.xci, n2i = nci)),
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg)))
fits <- list()
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
    fits[[length(fits) + 1]] <- list(
      dataset = name, method = method, k = k,
      call = paste0("glmer(", deparse1(form), ", family = binomial, nAGQ = 1, control = <tight, see script>)"),
      estimate = unname(fixef(m)["group1"]), se = unname(sqrt(diag(as.matrix(vcov(m))))[1]),
      sigma2 = unname(th[1]^2), tau2 = if (method == "ML") unname(th[2]^2) else 0,
      loglik = as.numeric(logLik(m)))
  }
}
out <- list(generated_by = "tests/reference/make_glmm_laplace_reference.R", r_version = R.version.string,
            lme4 = as.character(packageVersion("lme4")), metadat = as.character(packageVersion("metadat")),
            control = ctl[c("optimizer", "optCtrl", "tolPwrss")], fits = fits)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/glmm_laplace_reference.json")
