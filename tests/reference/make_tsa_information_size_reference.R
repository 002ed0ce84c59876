# Reference numbers for metak.certainty.information_size (tests/test_tsa.py).
#
# RTSA (not installed here; not in Debian's archive) computes the required information size in
# R/ris.R (RTSA 0.2.2, github.com/AnneLyng/RTSA, commit dc13c0b):
#   binary (RR/OR): pI <- exp(log(pC) + log(mc)) (RR) or invlogit(logit(pC) + log(mc)) (OR),
#                   p <- (pC + pI) / 2; var_mc <- p * (1 - p); mc_nf <- pC - pI
#   continuous (MD): var_mc <- sd_mc^2; mc_nf <- mc
#   NF <- ceiling(2 * (qnorm(1 - alpha / side) + qnorm(1 - beta))^2 * 2 * var_mc / mc_nf^2)
#   NR_D2 <- ceiling(1 / (1 - D2) * NF)
# Those lines are reproduced verbatim below for the vignette's calls (required-sample-size.Rmd):
#   ris(outcome = "RR", mc = 0.9, pC = 0.1, alpha = 0.05, beta = 0.1, side = 2)
#   ris(outcome = "RR", mc = 0.9, pC = 0.2, fixed = FALSE, I2 = 0.2, D2 = 0.3, side = 2, alpha = 0.05, beta = 0.2)
# plus an OR and an MD case, and D^2 (Wetterslev 2009: (V_R - V_F) / V_R) of dat.bcg from
# metafor's FE and REML fits.
#   Rscript tests/reference/make_tsa_information_size_reference.R > tests/reference/tsa_information_size.json
suppressPackageStartupMessages(library(metafor))
logit <- function(x) log(x / (1 - x))
invlogit <- function(x) 1 / (1 + exp(-x))
ris_nf <- function(outcome, mc, alpha, beta, side, pC = NULL, sd_mc = NULL) {
  if (outcome %in% c("OR", "RR")) {
    pI <- if (outcome == "RR") exp(log(pC) + log(mc)) else invlogit(logit(pC) + log(mc))
    p <- (pC + pI) / 2; var_mc <- p * (1 - p); mc_nf <- pC - pI
  } else { var_mc <- sd_mc^2; mc_nf <- mc }
  2 * (qnorm(1 - alpha / side) + qnorm(1 - beta))^2 * 2 * var_mc / mc_nf^2
}
case <- function(name, call, outcome, mc, alpha, beta, side, pC = NULL, sd_mc = NULL, D2 = 0) {
  nf <- ris_nf(outcome, mc, alpha, beta, side, pC, sd_mc)
  list(name = name, call = call, outcome = outcome, mc = mc, alpha = alpha, beta = beta, side = side,
       pC = if (is.null(pC)) NA else pC, sd_mc = if (is.null(sd_mc)) NA else sd_mc, D2 = D2,
       NF_exact = nf, NF = ceiling(nf), NR_D2 = ceiling(1 / (1 - D2) * ceiling(nf)))
}
cases <- list(
  case("vignette_rr", 'ris(outcome = "RR", mc = 0.9, pC = 0.1, alpha = 0.05, beta = 0.1, side = 2)',
       "RR", 0.9, 0.05, 0.1, 2, pC = 0.1),
  case("vignette_rr_d2", 'ris(outcome = "RR", mc = 0.9, pC = 0.2, fixed = FALSE, I2 = 0.2, D2 = 0.3, side = 2, alpha = 0.05, beta = 0.2)',
       "RR", 0.9, 0.05, 0.2, 2, pC = 0.2, D2 = 0.3),
  case("or", 'ris(outcome = "OR", mc = 1.5, pC = 0.3, alpha = 0.05, beta = 0.2, side = 2, D2 = 0.4)',
       "OR", 1.5, 0.05, 0.2, 2, pC = 0.3, D2 = 0.4),
  case("md", 'ris(outcome = "MD", mc = 5, sd_mc = 12, alpha = 0.05, beta = 0.1, side = 2)',
       "MD", 5, 0.05, 0.1, 2, sd_mc = 12))
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
fe <- rma(yi, vi, data = dat, method = "FE")
re <- rma(yi, vi, data = dat, method = "REML", control = list(tau2.min = 0, threshold = 1e-12, maxiter = 10000))
d2 <- list(data = "dat.bcg, escalc(measure = 'RR', ai = tpos, bi = tneg, ci = cpos, di = cneg)",
           calls = c("rma(yi, vi, method = 'FE')", "rma(yi, vi, method = 'REML', control = list(threshold = 1e-12))"),
           yi = as.numeric(dat$yi), vi = as.numeric(dat$vi), tau2 = re$tau2,
           D2 = (re$se^2 - fe$se^2) / re$se^2)
out <- list(generated_by = "tests/reference/make_tsa_information_size_reference.R",
            R = R.version.string, metafor = as.character(packageVersion("metafor")),
            rtsa_source = "RTSA R/ris.R (github.com/AnneLyng/RTSA commit dc13c0b), formulas reproduced verbatim",
            cases = cases, diversity = d2)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), "\n")
