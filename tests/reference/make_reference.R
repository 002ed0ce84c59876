#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# make_reference.R -- pinned reference values from R's metafor for metak.
#
# Purpose:
#   Fits a fixed list of meta-analysis cases with metafor (escalc, rma,
#   rma.mh, rma.peto, predict, confint, weights) and writes every number the
#   metak test suite compares against to tests/reference/metafor_reference.json.
#
# How to run (from the repository root):
#   Rscript tests/reference/make_reference.R
#
# Requirements: R, metafor, metadat, jsonlite
#   (Debian/Ubuntu: apt-get install r-cran-metafor r-cran-metadat r-cran-jsonlite)
#
# This is a tool for *making* the reference file. It is never a CI dependency:
# the JSON it writes is committed, and the Python tests only read that JSON.
# Re-run it only deliberately (e.g. after a metafor upgrade) and review the diff.
#
# Conventions in the JSON:
#   * numbers are written with full precision (jsonlite digits = NA);
#     NA / NaN / Inf are written as null.
#   * i2 / i2_ci are in percent, as metafor reports them; weights are percent.
#   * "statistic" is metafor's zval (a t value when test = "knha"); "df" is
#     the t df (null under test = "z").
#   * CIs for tau2 / tau / I2 / H2 are confint(res) with its default
#     (Q-profile) method, at the model's level; null for FE / MH / PETO.
#   * "call" / "escalc_call" are the exact R text that was evaluated.
# -----------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "metafor_reference.json")
if (!dir.exists(dirname(out_file))) {
  stop("Run from the repository root: Rscript tests/reference/make_reference.R")
}

# ---------------------------------------------------------------- datasets ---
data("dat.bcg", package = "metadat")
data("dat.normand1999", package = "metadat")

# Small made-up binary data set with zero cells:
#   study 2: a single zero cell (ai = 0)
#   study 4: a double-zero study (ai = 0 and ci = 0)
dat.zeros <- data.frame(
  study = 1:6,
  ai = c( 4,  0, 10,  0,  7, 12),
  bi = c(46, 50, 90, 30, 43, 88),
  ci = c( 8,  3, 15,  0, 12, 20),
  di = c(42, 47, 85, 30, 38, 80)
)

# Very homogeneous generic outcomes: the Q-profile CI for tau2 is empty.
dat.homog <- data.frame(
  yi = c(0.10, 0.11, 0.09, 0.10),
  vi = c(0.04, 0.05, 0.03, 0.06)
)

datasets <- list(
  bcg = list(ai = dat.bcg$tpos, bi = dat.bcg$tneg,
             ci = dat.bcg$cpos, di = dat.bcg$cneg),
  bcg_k2 = list(ai = dat.bcg$tpos[1:2], bi = dat.bcg$tneg[1:2],
                ci = dat.bcg$cpos[1:2], di = dat.bcg$cneg[1:2]),
  normand1999 = list(m1i = dat.normand1999$m1i, sd1i = dat.normand1999$sd1i,
                     n1i = dat.normand1999$n1i, m2i = dat.normand1999$m2i,
                     sd2i = dat.normand1999$sd2i, n2i = dat.normand1999$n2i),
  zeros = list(ai = dat.zeros$ai, bi = dat.zeros$bi,
               ci = dat.zeros$ci, di = dat.zeros$di),
  homog = list(yi = dat.homog$yi, vi = dat.homog$vi)
)

# ----------------------------------------------------------------- helpers ---
num <- function(x) {
  # plain numeric vector, non-finite -> NA (written as null)
  if (is.null(x) || length(x) == 0) return(NA_real_)
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  x
}
vec <- function(x) I(num(x))   # always a JSON array, even if length 1
# weights aligned to all k.f studies/tables (null where dropped from the fit)
full_weights <- function(r) {
  w <- rep(NA_real_, r$k.f)
  w[r$not.na] <- weights(r)
  vec(w)
}
scal <- function(x) { x <- num(x); if (length(x) == 0) NA_real_ else x[1] }

# Evaluate expr, collecting warnings and messages (muffled) as plain text.
capture <- function(expr) {
  warns <- character(0)
  msgs <- character(0)
  value <- withCallingHandlers(
    expr,
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      msgs <<- c(msgs, sub("\n$", "", conditionMessage(m)))
      invokeRestart("muffleMessage")
    }
  )
  list(value = value, warnings = warns, messages = msgs)
}
strip_ansi <- function(s) gsub("\033\\[[0-9;]*m", "", s)

cc_escalc <- function(add = 0.5, to = "only0", drop00 = FALSE)
  list(add = add, to = to, drop00 = drop00)

# Build the escalc call text for a dataset/measure with optional cc settings.
escalc_text <- function(dataset, measure, cc_args = "") {
  if (dataset %in% c("bcg", "bcg_k2")) {
    src <- if (dataset == "bcg") "dat.bcg" else "dat.bcg[1:2,]"
    sprintf("escalc(measure=\"%s\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=%s%s)",
            measure, src, cc_args)
  } else if (dataset == "zeros") {
    sprintf("escalc(measure=\"%s\", ai=ai, bi=bi, ci=ci, di=di, data=dat.zeros%s)",
            measure, cc_args)
  } else if (dataset == "normand1999") {
    sprintf("escalc(measure=\"%s\", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999%s)",
            measure, cc_args)
  } else stop("unknown dataset ", dataset)
}

ev <- function(txt, env) eval(parse(text = txt), envir = env)

# ---------------------------------------------------- rma.uni case builder ---
uni_case <- function(id, dataset, measure, method, test, level = 0.95,
                     cc_args = "", cc = cc_escalc(), confint_text = FALSE) {
  env <- new.env(parent = globalenv())
  case <- list(id = id, dataset = dataset, measure = measure, method = method,
               test = test, level = level)
  if (dataset == "homog") {
    esc_call <- NA
    assign("dat", dat.homog, envir = env)
    esc_w <- character(0); esc_m <- character(0)
  } else {
    esc_call <- escalc_text(dataset, measure, cc_args)
  }
  lvl_txt <- if (isTRUE(all.equal(level, 0.95))) "" else sprintf(", level=%s", format(100 * level))
  call <- sprintf("rma(yi, vi, data=dat, method=\"%s\", test=\"%s\"%s)", method, test, lvl_txt)
  case$call <- call
  case$escalc_call <- esc_call
  case$cc <- cc
  res <- tryCatch({
    if (!is.na(esc_call)) {
      e <- capture(ev(esc_call, env))
      assign("dat", e$value, envir = env)
      esc_w <- e$warnings; esc_m <- e$messages
    }
    dat <- get("dat", envir = env)
    f <- capture(ev(call, env))
    r <- f$value
    p <- capture(predict(r))
    pr <- p$value
    is_fe <- method %in% c("FE", "EE", "CE")
    out <- list(
      yi = vec(dat$yi), vi = vec(dat$vi), k = r$k,
      estimate = scal(r$beta), se = scal(r$se),
      ci_lower = scal(r$ci.lb), ci_upper = scal(r$ci.ub),
      statistic = scal(r$zval),
      df = if (test == "z") NA else scal(r$ddf),
      p_value = scal(r$pval),
      pi_lower = if (is_fe) NA else scal(pr$pi.lb),
      pi_upper = if (is_fe) NA else scal(pr$pi.ub),
      pi_df = if (is_fe || test == "z") NA else scal(pr$pi.ddf),
      tau2 = scal(r$tau2), se_tau2 = scal(r$se.tau2),
      i2 = scal(r$I2), h2 = scal(r$H2),
      q = scal(r$QE), q_df = r$k - r$p, q_p = scal(r$QEp),
      weights = full_weights(r)
    )
    ci_w <- character(0); ci_m <- character(0)
    if (is_fe) {
      out$tau2_ci <- NA; out$tau_ci <- NA; out$i2_ci <- NA; out$h2_ci <- NA
    } else {
      ci <- tryCatch(capture(confint(r)), error = function(e) e)
      if (inherits(ci, "error")) {
        out$confint_error <- conditionMessage(ci)
        out$tau2_ci <- NA; out$tau_ci <- NA; out$i2_ci <- NA; out$h2_ci <- NA
      } else {
        ci_w <- ci$warnings; ci_m <- ci$messages
        rnd <- ci$value$random
        out$tau2_ci <- vec(rnd[1, c("ci.lb", "ci.ub")])
        out$tau_ci  <- vec(rnd[2, c("ci.lb", "ci.ub")])
        out$i2_ci   <- vec(rnd[3, c("ci.lb", "ci.ub")])
        out$h2_ci   <- vec(rnd[4, c("ci.lb", "ci.ub")])
        # confint flags: ci_null = TRUE when both Q-profile bounds fall below
        # tau2.min (empty set; bounds are then reported as tau2.min);
        # lb_sign/ub_sign = "<" or ">" when a bound hit the search limit
        # (e.g. ub ">" = true bound exceeds tau2.max, reported as tau2.max).
        out$confint_flags <- list(ci_null = isTRUE(ci$value$ci.null),
                                  lb_sign = ci$value$lb.sign,
                                  ub_sign = ci$value$ub.sign,
                                  tau2_min = scal(ci$value$tau2.min))
        if (confint_text) {
          out$confint_random <- list(
            rows = I(rownames(rnd)),
            estimate = vec(rnd[, "estimate"]),
            ci_lower = vec(rnd[, "ci.lb"]),
            ci_upper = vec(rnd[, "ci.ub"]))
          pc <- capture(capture.output(print(ci$value)))
          out$confint_text <- I(strip_ansi(pc$value))
          out$confint_print_messages <- I(strip_ansi(pc$messages))
        }
      }
    }
    # "tight": the same fit with metafor's convergence tolerances tightened, so that the
    # iterative estimators (ML, REML, PM, EB) and the Q-profile bounds are the exact
    # roots rather than metafor's stopping points (default threshold 1e-5 and uniroot
    # tol .Machine$double.eps^0.25 ~ 1.2e-4, which matter when tau2 is small, e.g. for RD),
    # and the Q-profile search is not capped at tau2.max = max(100, 10 tau2).
    if (!is_fe) {
      tctl <- "control=list(threshold=1e-12, tol=1e-12, maxiter=10000)"
      tcall <- if (method %in% c("ML", "REML", "PM", "EB"))
        sub(")$", paste0(", ", tctl, ")"), call) else call
      rt <- ev(tcall, env)
      pt <- predict(rt)
      cit <- tryCatch(confint(rt, control = list(tol = 1e-12, tau2.max = 1e6, maxiter = 10000)),
                      error = function(e) NULL)
      out$tight <- list(
        call = tcall,
        confint_call = "confint(res, control=list(tol=1e-12, tau2.max=1e6, maxiter=10000))",
        estimate = scal(rt$beta), se = scal(rt$se), ci_lower = scal(rt$ci.lb),
        ci_upper = scal(rt$ci.ub), statistic = scal(rt$zval), p_value = scal(rt$pval),
        pi_lower = scal(pt$pi.lb), pi_upper = scal(pt$pi.ub),
        tau2 = scal(rt$tau2), i2 = scal(rt$I2), h2 = scal(rt$H2), weights = full_weights(rt),
        tau2_ci = if (is.null(cit)) NA else vec(cit$random[1, c("ci.lb", "ci.ub")]),
        tau_ci = if (is.null(cit)) NA else vec(cit$random[2, c("ci.lb", "ci.ub")]),
        i2_ci = if (is.null(cit)) NA else vec(cit$random[3, c("ci.lb", "ci.ub")]),
        h2_ci = if (is.null(cit)) NA else vec(cit$random[4, c("ci.lb", "ci.ub")]),
        ci_null = if (is.null(cit)) NA else isTRUE(cit$ci.null))
    }
    if (method %in% c("ML", "REML")) {
      fs <- r$fit.stats
      col <- method
      out$fit_stats <- list(ll = fs["ll", col], deviance = fs["dev", col],
                            AIC = fs["AIC", col], BIC = fs["BIC", col],
                            AICc = fs["AICc", col])
    }
    out$warnings <- I(strip_ansi(c(esc_w, f$warnings, p$warnings)))
    out$messages <- I(strip_ansi(c(esc_m, f$messages, p$messages)))
    out$confint_warnings <- I(strip_ansi(ci_w))
    out$confint_messages <- I(strip_ansi(ci_m))
    out
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}

# ------------------------------------------------ rma.mh / rma.peto builder ---
mhp_case <- function(id, dataset, measure, kind, extra_args = "") {
  env <- new.env(parent = globalenv())
  src <- switch(dataset, bcg = "dat.bcg", zeros = "dat.zeros")
  cols <- switch(dataset, bcg = "ai=tpos, bi=tneg, ci=cpos, di=cneg",
                 zeros = "ai=ai, bi=bi, ci=ci, di=di")
  if (kind == "MH") {
    call <- sprintf("rma.mh(measure=\"%s\", %s, data=%s%s)", measure, cols, src, extra_args)
    method <- "MH"
  } else {
    call <- sprintf("rma.peto(%s, data=%s%s)", cols, src, extra_args)
    method <- "PETO"
  }
  esc_measure <- if (kind == "MH") measure else "PETO"
  case <- list(id = id, dataset = dataset, measure = measure, method = method,
               test = "z", level = 0.95, call = call,
               escalc_call = escalc_text(dataset, esc_measure))
  res <- tryCatch({
    f <- capture(ev(call, env))
    r <- f$value
    # cc: element 1 = used for yi/vi (Q, I2, H2), element 2 = used for the
    # MH / Peto pooled estimate itself (metafor's two-element convention).
    cc <- list(add = vec(r$add), to = I(r$to), drop00 = I(r$drop00))
    out <- list(
      cc = cc,
      note = paste("yi/vi are res$yi.f/res$vi.f of the fitted object (all tables, in order),",
                   "i.e. escalc values computed with cc element 1 (double-zero tables -> null",
                   "when drop00[1]); Q/I2/H2 use the non-null ones; the pooled estimate uses",
                   "the raw tables with cc element 2. weights: null = table not in the model."),
      yi = vec(r$yi.f), vi = vec(r$vi.f), k = r$k, k_yi = r$k.yi,
      estimate = scal(r$beta), se = scal(r$se),
      ci_lower = scal(r$ci.lb), ci_upper = scal(r$ci.ub),
      statistic = scal(r$zval), df = NA, p_value = scal(r$pval),
      pi_lower = NA, pi_upper = NA,
      tau2 = NA, se_tau2 = NA,
      tau2_ci = NA, tau_ci = NA, i2_ci = NA, h2_ci = NA,
      i2 = scal(r$I2), h2 = scal(r$H2),
      q = scal(r$QE), q_df = r$k.yi - 1, q_p = scal(r$QEp),
      weights = full_weights(r)
    )
    if (kind == "MH") {
      out$mh_extra <- list(k_pos = scal(r$k.pos),
                           CO = scal(r$CO), COp = scal(r$COp),
                           MH = scal(r$MH), MHp = scal(r$MHp),
                           BD = scal(r$BD), BDp = scal(r$BDp),
                           TA = scal(r$TA), TAp = scal(r$TAp),
                           correct = TRUE)
    }
    out$warnings <- I(strip_ansi(f$warnings))
    out$messages <- I(strip_ansi(f$messages))
    out
  }, error = function(e) list(error = conditionMessage(e)))
  c(case, res)
}

# ------------------------------------------------------------------- cases ---
methods8 <- c("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB")
tests <- c("z", "knha")
cases <- list()
add_case <- function(x) cases[[length(cases) + 1]] <<- x

# dat.bcg: OR, RR, RD x 8 methods x 2 tests; MH (OR, RR, RD); Peto
for (m in c("OR", "RR", "RD"))
  for (meth in methods8)
    for (tt in tests)
      add_case(uni_case(sprintf("bcg_%s_%s_%s", m, meth, tt), "bcg", m, meth, tt))
for (m in c("OR", "RR", "RD"))
  add_case(mhp_case(sprintf("bcg_%s_MH_z", m), "bcg", m, "MH"))
add_case(mhp_case("bcg_OR_PETO_z", "bcg", "OR", "PETO"))

# dat.normand1999: MD, SMD, SMDH, ROM, VR, CVR (vtype "LS", the escalc default) x 8 x 2
for (m in c("MD", "SMD", "SMDH", "ROM", "VR", "CVR"))
  for (meth in methods8)
    for (tt in tests)
      add_case(uni_case(sprintf("normand1999_%s_%s_%s", m, meth, tt), "normand1999", m, meth, tt))

# zeros: OR, RR, RD x FE, DL, REML x 2 tests; MH; Peto
for (m in c("OR", "RR", "RD"))
  for (meth in c("FE", "DL", "REML"))
    for (tt in tests)
      add_case(uni_case(sprintf("zeros_%s_%s_%s", m, meth, tt), "zeros", m, meth, tt))
for (m in c("OR", "RR", "RD"))
  add_case(mhp_case(sprintf("zeros_%s_MH_z", m), "zeros", m, "MH"))
add_case(mhp_case("zeros_OR_PETO_z", "zeros", "OR", "PETO"))
# MH RD with the double-zero table also dropped from the MH estimate itself
add_case(mhp_case("zeros_RD_MH_z_drop00both", "zeros", "RD", "MH",
                  extra_args = ", drop00=c(TRUE, TRUE)"))

# continuity-correction variants (REML, z)
add_case(uni_case("bcg_OR_REML_z_to_all", "bcg", "OR", "REML", "z",
                  cc_args = ", to=\"all\"", cc = cc_escalc(to = "all")))
add_case(uni_case("bcg_OR_REML_z_to_if0all", "bcg", "OR", "REML", "z",
                  cc_args = ", to=\"if0all\"", cc = cc_escalc(to = "if0all")))
add_case(uni_case("bcg_OR_REML_z_add0_none", "bcg", "OR", "REML", "z",
                  cc_args = ", add=0, to=\"none\"", cc = cc_escalc(add = 0, to = "none")))
for (m in c("OR", "RR", "RD")) {
  add_case(uni_case(sprintf("zeros_%s_REML_z_to_all", m), "zeros", m, "REML", "z",
                    cc_args = ", to=\"all\"", cc = cc_escalc(to = "all")))
  add_case(uni_case(sprintf("zeros_%s_REML_z_to_if0all", m), "zeros", m, "REML", "z",
                    cc_args = ", to=\"if0all\"", cc = cc_escalc(to = "if0all")))
  add_case(uni_case(sprintf("zeros_%s_REML_z_drop00", m), "zeros", m, "REML", "z",
                    cc_args = ", drop00=TRUE", cc = cc_escalc(drop00 = TRUE)))
}

# k = 2 (first two bcg studies)
for (meth in c("REML", "DL"))
  for (tt in tests)
    add_case(uni_case(sprintf("bcg_k2_OR_%s_%s", meth, tt), "bcg_k2", "OR", meth, tt,
                      confint_text = TRUE))

# homogeneous data: Q-profile CI for tau2 is empty
for (meth in c("REML", "DL"))
  for (tt in tests)
    add_case(uni_case(sprintf("homog_GEN_%s_%s", meth, tt), "homog", "GEN", meth, tt,
                      confint_text = TRUE))

# level 0.90
add_case(uni_case("bcg_OR_REML_knha_level90", "bcg", "OR", "REML", "knha", level = 0.90))

# ------------------------------------------------------------------- write ---
stopifnot(!any(duplicated(vapply(cases, `[[`, "", "id"))))

js <- function(x) as.character(toJSON(x, auto_unbox = TRUE, digits = NA,
                                      na = "null", null = "null"))
header <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/make_reference.R"
)
lines <- c("{")
for (nm in names(header))
  lines <- c(lines, sprintf(" %s: %s,", js(nm), js(header[[nm]])))
lines <- c(lines, " \"datasets\": {")
dn <- names(datasets)
for (i in seq_along(dn))
  lines <- c(lines, sprintf("  %s: %s%s", js(dn[i]), js(datasets[[dn[i]]]),
                            if (i < length(dn)) "," else ""))
lines <- c(lines, " },", " \"cases\": [")
for (i in seq_along(cases))
  lines <- c(lines, sprintf("  %s%s", js(cases[[i]]), if (i < length(cases)) "," else ""))
lines <- c(lines, " ]", "}")
writeLines(lines, out_file, useBytes = TRUE)

# sanity check + summary
chk <- fromJSON(out_file, simplifyVector = FALSE)
errs <- Filter(function(cs) !is.null(cs$error), chk$cases)
cat(sprintf("Wrote %s: %d cases, %d datasets, %d errors\n",
            out_file, length(chk$cases), length(chk$datasets), length(errs)))
for (cs in errs) cat(sprintf("  ERROR %s: %s\n", cs$id, cs$error))
for (cs in chk$cases) {
  w <- c(unlist(cs$warnings), unlist(cs$confint_warnings),
         unlist(cs$messages), unlist(cs$confint_messages), cs$confint_error)
  if (length(w)) cat(sprintf("  note %s: %s\n", cs$id, paste(w, collapse = " | ")))
}
