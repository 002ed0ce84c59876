# Reference numbers for metak's network meta-analysis (tests/test_network_reference.py).
# Run from the repository root:  Rscript tests/reference/make_network_reference.R
# Model: metafor's contrast-based NMA, as on the help pages of dat.senn2013 / dat.hasselblad1998:
#   rma.mv(yi, V, mods = contrast matrix (no intercept), random = ~ comp | study, rho = 1/2)
# Arm-level data -> contrasts of every arm vs the trial's baseline arm (the reference treatment
# if the trial has it, else the alphabetically first treatment), with the exact covariance of a
# trial's contrasts (the baseline arm's variance). OR: 0.5 added to every cell of the trials with
# a zero cell. Q total: QE of the FE fit; Q within designs: QE of the FE design-by-treatment
# interaction model (one set of treatment effects per design, Higgins et al. 2012).
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})
ctrl <- list(optimizer = "BFGS", reltol = 1e-14, maxit = 10000)

contrasts_from_arms <- function(d, measure, ref) {
  # d: study, trt, and xi/ni (OR) or mi/sdi/ni (MD)
  rows <- list(); Vs <- list()
  for (s in unique(d$study)) {
    a <- d[d$study == s, ]
    trts <- as.character(a$trt)
    base <- if (ref %in% trts) ref else sort(trts)[1]
    b <- a[trts == base, ]; o <- a[trts != base, ]
    o <- o[order(as.character(o$trt)), ]
    if (measure == "OR") {
      cc <- if (any(a$xi == 0 | a$xi == a$ni)) 0.5 else 0
      lo <- function(x, n) log((x + cc) / (n - x + cc))
      va <- function(x, n) 1 / (x + cc) + 1 / (n - x + cc)
      yi <- lo(o$xi, o$ni) - lo(b$xi, b$ni); vb <- va(b$xi, b$ni); vo <- va(o$xi, o$ni)
    } else {
      yi <- o$mi - b$mi; vb <- b$sdi^2 / b$ni; vo <- o$sdi^2 / o$ni
    }
    m <- length(yi); V <- matrix(vb, m, m); diag(V) <- vo + vb
    design <- paste(sort(trts), collapse = ":")
    rows[[length(rows) + 1]] <- data.frame(study = s, trt = as.character(o$trt), base = base, yi = yi,
                                           comp = paste(o$trt, base, sep = "-"), design = design)
    Vs[[length(Vs) + 1]] <- V
  }
  list(dat = do.call(rbind, rows), V = bldiag(Vs))
}

contrast_matrix <- function(dat, trts, ref) {
  others <- setdiff(trts, ref)
  X <- matrix(0, nrow(dat), length(others), dimnames = list(NULL, others))
  for (i in seq_len(nrow(dat))) {
    if (dat$trt[i] != ref) X[i, dat$trt[i]] <- 1
    if (dat$base[i] != ref) X[i, dat$base[i]] <- -1
  }
  X
}

design_matrix <- function(dat) {
  # one parameter per (design, non-first treatment of the design): the design-by-treatment model
  cols <- list()
  for (i in seq_len(nrow(dat))) {
    ds <- strsplit(dat$design[i], ":")[[1]]
    for (t in c(dat$trt[i], dat$base[i])) if (t != ds[1]) cols[[paste(dat$design[i], t, sep = "|")]] <- TRUE
  }
  nm <- names(cols)
  X <- matrix(0, nrow(dat), length(nm), dimnames = list(NULL, nm))
  for (i in seq_len(nrow(dat))) {
    ds <- strsplit(dat$design[i], ":")[[1]]
    if (dat$trt[i] != ds[1]) X[i, paste(dat$design[i], dat$trt[i], sep = "|")] <- 1
    if (dat$base[i] != ds[1]) X[i, paste(dat$design[i], dat$base[i], sep = "|")] <- -1
  }
  X
}

run_network <- function(name, d, measure, ref) {
  cv <- contrasts_from_arms(d, measure, ref)
  dat <- cv$dat; V <- cv$V
  trts <- sort(unique(as.character(d$trt)))
  X <- contrast_matrix(dat, trts, ref)
  out <- list(name = name, measure = measure, reference = ref, treatments = trts,
              n_contrasts = nrow(dat), n_trials = length(unique(dat$study)))
  for (method in c("REML", "ML")) {
    f <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, data = dat,
                method = method, control = ctrl)
    out[[method]] <- list(call = sprintf("rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = \"%s\", control = list(optimizer = \"BFGS\", reltol = 1e-14, maxit = 10000))", method),
                          beta = unname(c(f$beta)), se = unname(f$se), vb = unname(f$vb),
                          tau2 = f$tau2, loglik = as.numeric(logLik(f)))
    if (f$tau2 > 1e-6) {
      ci <- confint(f, tau2 = 1, control = list(tol = 1e-12))
      out[[method]]$tau2_ci <- unname(ci$random[1, 2:3])
      out[[method]]$tau2_ci_call <- "confint(fit, tau2 = 1, control = list(tol = 1e-12))"
    }
  }
  f0 <- rma.mv(yi, V, mods = X, intercept = FALSE, data = dat, method = "FE")
  out$FE <- list(call = "rma.mv(yi, V, mods = X, intercept = FALSE, method = \"FE\")",
                 beta = unname(c(f0$beta)), se = unname(f0$se), vb = unname(f0$vb),
                 q_total = f0$QE, q_total_df = f0$k - f0$p)
  Xd <- design_matrix(dat)
  fd <- rma.mv(yi, V, mods = Xd, intercept = FALSE, data = dat, method = "FE")
  out$design_by_treatment <- list(call = "rma.mv(yi, V, mods = Xd (one parameter per design and treatment), intercept = FALSE, method = \"FE\")",
                                  q_within = fd$QE, q_within_df = fd$k - fd$p)
  # random-effects design-by-treatment test: tau2 within designs by the method of moments from Q
  # within, then the Wald test (QM) of the design-specific columns added to the consistency model
  if (fd$k - fd$p > 0 && ncol(Xd) > ncol(X)) {
    Pw <- outer(dat$study, dat$study, "==") * 0.5 + diag(nrow(dat)) * 0.5
    Ww <- solve(V)
    Rd <- Ww - Ww %*% Xd %*% solve(t(Xd) %*% Ww %*% Xd) %*% t(Xd) %*% Ww
    tau2_w <- max(0, (fd$QE - (fd$k - fd$p)) / sum(diag(Rd %*% Pw)))
    Xa <- cbind(X, Xd); keep <- qr(Xa)$pivot[seq_len(qr(Xa)$rank)]; keep <- sort(keep)
    fr <- rma.mv(yi, V, mods = Xa[, keep], intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = tau2_w,
                 data = dat, btt = which(keep > ncol(X)))
    out$design_by_treatment$random <- list(
      call = "tau2_w = max(0, (Q_within - df) / tr(R_d P)); rma.mv(yi, V, mods = cbind(X, Xd) (independent columns), intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = tau2_w, btt = the Xd columns)",
      tau2_within = tau2_w, q = fr$QM, df = fr$QMdf[1])
  }
  # DL (method of moments, Jackson, White & Riley 2012): tau2 = max(0, (Q - df) / tr(R P)) with Q the
  # FE QE of rma.mv (not rma.uni: with intercept = FALSE rma.uni's QE centres yi first), R = W - W X
  # (X'WX)^-1 X'W, W = V^-1, P = (I + J)/2 within a trial. Then rma.mv with tau2 fixed at it.
  P <- outer(dat$study, dat$study, "==") * 0.5 + diag(nrow(dat)) * 0.5
  W <- solve(V)
  R <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  tau2_dl <- max(0, (f0$QE - (f0$k - f0$p)) / sum(diag(R %*% P)))
  fdl <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = tau2_dl,
                data = dat)
  out$DL <- list(call = "tau2 = max(0, (QE - df) / tr(R P)); rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = tau2)",
                 tau2 = tau2_dl, beta = unname(c(fdl$beta)), se = unname(fdl$se))
  out$arms <- d
  out
}

senn <- with(dat.senn2013, data.frame(study = study, trt = treatment, mi = mi, sdi = sdi, ni = ni))
hass <- with(dat.hasselblad1998, data.frame(study = as.character(study), trt = trt, xi = xi, ni = ni))
pag <- with(dat.pagliaro1992, data.frame(study = as.character(study), trt = trt, xi = xi, ni = ni))
fr <- dat.franchini2012
frl <- do.call(rbind, lapply(1:3, function(j) data.frame(study = fr$Study, trt = fr[[paste0("Treatment", j)]],
                                                          mi = fr[[paste0("y", j)]], sdi = fr[[paste0("sd", j)]],
                                                          ni = fr[[paste0("n", j)]])))
frl <- frl[!is.na(frl$trt), ]; frl$trt <- as.character(frl$trt)

res <- list(
  r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  networks = list(
    senn2013 = run_network("dat.senn2013", senn, "MD", "placebo"),
    hasselblad1998 = run_network("dat.hasselblad1998", hass, "OR", "no_contact"),
    pagliaro1992 = run_network("dat.pagliaro1992", pag, "OR", "control"),
    franchini2012 = run_network("dat.franchini2012", frl, "MD", "Placebo")))
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/metafor_network_reference.json")
cat("written\n")
