#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# make_regression_reference.R -- pinned meta-regression / subgroup / permutation
# reference values from R's metafor for metak.
#
# Purpose:
#   Fits a fixed list of mixed-effects meta-regression models (rma with mods),
#   subgroup analyses (separate rma fits per group, the Cochrane Q-between test
#   and the mixed-model omnibus test) and exact permutation tests (permutest)
#   with metafor, and writes every number the metak test suite compares against
#   to tests/reference/metafor_regression_reference.json.
#
# How to run (from the repository root):
#   Rscript tests/reference/make_regression_reference.R
#
# Requirements: R, metafor, metadat, jsonlite (and pbapply, a metafor import)
#   (Debian/Ubuntu: apt-get install r-cran-metafor r-cran-metadat r-cran-jsonlite)
#
# This is a tool for *making* the reference file. It is never a CI dependency:
# the JSON it writes is committed, and the Python tests only read that JSON.
# Re-run it only deliberately (e.g. after a metafor upgrade) and review the diff.
#
# Conventions in the JSON:
#   * numbers are written with full precision (jsonlite digits = NA);
#     NA / NaN / Inf / NULL are written as null.
#   * every rma() fit uses tight convergence,
#       control=list(threshold=1e-12, tol=1e-12, maxiter=10000)
#     threshold = Fisher-scoring change criterion (ML, REML, EB), tol = uniroot()
#     tolerance (PM root; also the ML/REML 'll0 - ll > tol' check), maxiter =
#     both iteration caps. It is a no-op for FE, DL, HE and SJ (closed form).
#     It is part of every "call" string.
#   * "call" / "data_call" are the exact R text that was evaluated; the fitted
#     data set is `dat <- <data_call>`.
#   * i2, h2, r2 are as metafor reports them (i2, r2 in percent); r2 is null
#     when metafor returns R2 = NULL (intercept-only or no-intercept models;
#     none occur here).
#   * "statistic" is res$zval (t values under test = "knha"); "ddf" is null
#     under test = "z". qm_df is res$QMdf as is: [m, null] under "z",
#     [m, k-p] under "knha" (QM is then an F statistic, QM/m).
#   * X is res$X (k x p model matrix incl. the intercept column), row-major.
#   * pred.newmods = res$X rows 1 and the first row differing from row 1,
#     without the intercept column; pi_* are null when predict() gives none (FE).
#   * permutation cases: n_permutations = permutest's exact.iter, the number of
#     *unique* row permutations of X (fewer than k! when X has tied rows).
#   * "holdout": true marks data sets reserved as hold-out checks.
# -----------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "metafor_regression_reference.json")
if (!dir.exists(dirname(out_file))) {
  stop("Run from the repository root: Rscript tests/reference/make_regression_reference.R")
}

# ---------------------------------------------------------------- datasets ---
data("dat.bcg", package = "metadat")
data("dat.bangertdrowns2004", package = "metadat")
data("dat.raudenbush1985", package = "metadat")
data("dat.mcdaniel1994", package = "metadat")
data("dat.hackshaw1998", package = "metadat")

# Exact R text giving the fitted data set for each data key.
data_calls <- list(
  bcg = "escalc(measure=\"RR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)",
  bcg7 = "escalc(measure=\"RR\", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg[1:7,])",
  bangertdrowns2004 = "dat.bangertdrowns2004  # yi, vi as given",
  bangertdrowns2004_length = paste0(
    "dat.bangertdrowns2004[!is.na(dat.bangertdrowns2004$length), ]",
    "  # yi, vi as given; the 2 studies with length NA dropped (complete cases for length, imag)"),
  raudenbush1985 = paste0(
    "transform(dat.raudenbush1985, weeks.c = ifelse(weeks > 3, 3, weeks))",
    "  # yi, vi as given; weeks capped at 3 as in help(dat.raudenbush1985)"),
  mcdaniel1994 = paste0(
    "escalc(measure=\"ZCOR\", ri=ri, ni=ni, data=dat.mcdaniel1994[!is.na(dat.mcdaniel1994$type), ])",
    "  # the 3 studies with type NA dropped"),
  hackshaw1998 = "dat.hackshaw1998  # yi, vi (log OR) as given"
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
scal <- function(x) { x <- num(x); if (length(x) == 0) NA_real_ else x[1] }
mat <- function(x) { x <- unname(as.matrix(x)); storage.mode(x) <- "double"; x }

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

ev <- function(txt, env) eval(parse(text = txt), envir = env)

ctl_txt <- "control=list(threshold=1e-12, tol=1e-12, maxiter=10000)"

# warnings / messages are reported on the console (not stored in the JSON)
notes <- character(0)
note <- function(id, w) {
  w <- strip_ansi(unique(w))
  if (length(w)) notes <<- c(notes, sprintf("  note %s: %s", id, paste(w, collapse = " | ")))
}

data_env <- function(data_key) {
  env <- new.env(parent = globalenv())
  assign("dat", ev(data_calls[[data_key]], env), envir = env)
  env
}

lvl_text <- function(level)
  if (isTRUE(all.equal(level, 0.95))) "" else sprintf(", level=%s", format(100 * level))

# --------------------------------------------------- regression case builder ---
reg_case <- function(id, data_key, mods, method, test, level = 0.95, holdout = FALSE) {
  env <- data_env(data_key)
  dat <- get("dat", envir = env)
  call <- sprintf("rma(yi, vi, mods = %s, data=dat, method=\"%s\", test=\"%s\"%s, %s)",
                  mods, method, test, lvl_text(level), ctl_txt)
  f <- capture(ev(call, env))
  r <- f$value
  if (r$k != nrow(dat)) stop(id, ": studies were dropped from the fit; fix data_call")
  assign("res", r, envir = env)

  # predictions: moderators of row 1 and of the first row whose X differs from it
  X <- r$X
  other <- which(apply(X, 1, function(row) any(row != X[1, ])))[1]
  rows <- c(1L, other)
  nm <- X[rows, -1, drop = FALSE]
  pcall <- sprintf("predict(res, newmods=res$X[c(%d, %d), -1, drop=FALSE])", rows[1], rows[2])
  p <- capture(ev(pcall, env))
  pr <- p$value
  note(id, c(f$warnings, f$messages, p$warnings, p$messages))

  list(
    id = id, dataset = sub("_length$", "", data_key), data_call = data_calls[[data_key]],
    holdout = holdout,
    method = method, test = test, level = level, call = call,
    yi = vec(r$yi), vi = vec(r$vi), X = mat(X), colnames = I(colnames(X)),
    b = vec(r$beta), se = vec(r$se), statistic = vec(r$zval), p_value = vec(r$pval),
    ci_lower = vec(r$ci.lb), ci_upper = vec(r$ci.ub),
    ddf = if (test == "z") NA else scal(r$ddf),
    tau2 = scal(r$tau2),
    qm = scal(r$QM), qm_df = vec(r$QMdf), qm_p = scal(r$QMp),
    qe = scal(r$QE), qe_df = r$k - r$p, qe_p = scal(r$QEp),
    r2 = if (is.null(r$R2)) NA else scal(r$R2),
    i2 = scal(r$I2), h2 = scal(r$H2),
    k = r$k, p = r$p,
    pred = list(
      call = pcall,
      newmods = mat(nm),
      pred = vec(pr$pred), se = vec(pr$se),
      ci_lower = vec(pr$ci.lb), ci_upper = vec(pr$ci.ub),
      pi_lower = vec(if (is.null(pr$pi.lb)) NA else pr$pi.lb),
      pi_upper = vec(if (is.null(pr$pi.ub)) NA else pr$pi.ub))
  )
}

# ----------------------------------------------------- subgroup case builder ---
sub_case <- function(id, data_key, gvar, method, test, level = 0.95) {
  env <- data_env(data_key)
  dat <- get("dat", envir = env)
  g <- dat[[gvar]]
  vals <- sort(unique(g))
  lvl <- lvl_text(level)
  fits <- list()
  for (v in vals) {
    cond <- if (is.character(v)) sprintf("%s==\"%s\"", gvar, v) else sprintf("%s==%s", gvar, v)
    call <- sprintf("rma(yi, vi, data=dat, subset=%s, method=\"%s\", test=\"%s\"%s, %s)",
                    cond, method, test, lvl, ctl_txt)
    f <- capture(ev(call, env))
    r <- f$value
    note(sprintf("%s[%s]", id, v), c(f$warnings, f$messages))
    fits[[length(fits) + 1]] <- list(
      value = as.character(v), k = r$k,
      estimate = scal(r$beta), se = scal(r$se),
      ci_lower = scal(r$ci.lb), ci_upper = scal(r$ci.ub),
      tau2 = scal(r$tau2), i2 = scal(r$I2), q = scal(r$QE), call = call)
  }
  assign("est", vapply(fits, `[[`, 0, "estimate"), envir = env)
  assign("se", vapply(fits, `[[`, 0, "se"), envir = env)
  ccall <- sprintf("rma(est, sei=se, method=\"FE\", %s)", ctl_txt)
  fc <- capture(ev(ccall, env))
  rc <- fc$value
  note(sprintf("%s[cochrane]", id), c(fc$warnings, fc$messages))
  mcall <- sprintf("rma(yi, vi, mods = ~ factor(%s), data=dat, method=\"%s\", test=\"%s\"%s, %s)",
                   gvar, method, test, lvl, ctl_txt)
  fm <- capture(ev(mcall, env))
  rm_ <- fm$value
  note(sprintf("%s[mixed]", id), c(fm$warnings, fm$messages))
  list(
    id = id, dataset = data_key, data_call = data_calls[[data_key]],
    yi = vec(dat$yi), vi = vec(dat$vi), groups = I(as.character(g)),
    method = method, test = test, level = level,
    fits = fits,
    cochrane = list(q_between = scal(rc$QE), df_between = rc$k - rc$p,
                    p_between = scal(rc$QEp),
                    call = ccall),  # est, se = the fits' estimate, se (fits order)
    mixed_qm = list(qm = scal(rm_$QM), qm_df = vec(rm_$QMdf), qm_p = scal(rm_$QMp),
                    call = mcall)
  )
}

# -------------------------------------------------- permutation case builder ---
perm_case <- function(id, data_key, mods, method, test) {
  env <- data_env(data_key)
  fcall <- sprintf("rma(yi, vi, mods = %s, data=dat, method=\"%s\", test=\"%s\", %s)",
                   mods, method, test, ctl_txt)
  f <- capture(ev(fcall, env))
  r <- f$value
  assign("res", r, envir = env)
  pcall <- "permutest(res, exact=TRUE, progbar=FALSE)"
  p <- capture(ev(pcall, env))
  pt <- p$value
  note(id, c(f$warnings, f$messages, p$warnings, p$messages))
  list(
    id = id, dataset = data_key, data_call = data_calls[[data_key]],
    yi = vec(r$yi), vi = vec(r$vi), X = mat(r$X), colnames = I(colnames(r$X)),
    method = method, test = test, fit_call = fcall, call = pcall,
    b = vec(r$beta), statistic = vec(r$zval), qm = scal(r$QM),
    pval = vec(pt$pval), qm_p = scal(pt$QMp),
    n_permutations = pt$exact.iter,
    n_failed = sum(is.na(pt$QM.perm)),
    comptol = .Machine$double.eps^0.5
  )
}

# ------------------------------------------------------------------- cases ---
methods8 <- c("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB")
tests <- c("z", "knha")

reg_specs <- list(
  list(tag = "bcg_ablat",        data = "bcg", mods = "~ ablat"),
  list(tag = "bcg_ablat_year",   data = "bcg", mods = "~ ablat + year"),
  list(tag = "bcg_alloc",        data = "bcg", mods = "~ factor(alloc)"),
  list(tag = "bcg_ablat_alloc",  data = "bcg", mods = "~ ablat + factor(alloc)"),
  list(tag = "bangertdrowns2004_length",      data = "bangertdrowns2004_length", mods = "~ length"),
  list(tag = "bangertdrowns2004_grade",       data = "bangertdrowns2004",        mods = "~ factor(grade)"),
  list(tag = "bangertdrowns2004_length_imag", data = "bangertdrowns2004_length", mods = "~ length + imag"),
  # hold-out data sets
  list(tag = "raudenbush1985_weeksc", data = "raudenbush1985", mods = "~ weeks.c", holdout = TRUE),
  list(tag = "mcdaniel1994_type",     data = "mcdaniel1994",   mods = "~ factor(type)", holdout = TRUE)
)

regression_cases <- list()
add_reg <- function(x) regression_cases[[length(regression_cases) + 1]] <<- x
for (s in reg_specs)
  for (meth in methods8)
    for (tt in tests)
      add_reg(reg_case(sprintf("%s_%s_%s", s$tag, meth, tt), s$data, s$mods, meth, tt,
                       holdout = isTRUE(s$holdout)))

# HE truncates tau2 at 0 with a moderator (DL does not): dat.hackshaw1998 ~ year
for (meth in c("HE", "DL"))
  for (tt in tests)
    add_reg(reg_case(sprintf("hackshaw1998_year_%s_%s", meth, tt), "hackshaw1998", "~ year", meth, tt))

# level 0.90
add_reg(reg_case("bcg_ablat_REML_knha_level90", "bcg", "~ ablat", "REML", "knha", level = 0.90))
add_reg(reg_case("bcg_ablat_alloc_DL_z_level90", "bcg", "~ ablat + factor(alloc)", "DL", "z", level = 0.90))

subgroup_cases <- list(
  sub_case("bcg_by_alloc_REML_z",    "bcg", "alloc", "REML", "z"),
  sub_case("bcg_by_alloc_REML_knha", "bcg", "alloc", "REML", "knha"),
  sub_case("bcg_by_alloc_DL_z",      "bcg", "alloc", "DL", "z"),
  sub_case("bcg_by_alloc_FE_z",      "bcg", "alloc", "FE", "z"),
  sub_case("bangertdrowns2004_by_grade_REML_z", "bangertdrowns2004", "grade", "REML", "z")
)

permutation_cases <- list(
  perm_case("bcg7_ablat_REML_z", "bcg7", "~ ablat", "REML", "z"),
  perm_case("bcg7_ablat_DL_knha", "bcg7", "~ ablat", "DL", "knha")
)

# ------------------------------------------------------------------- write ---
all_ids <- c(vapply(regression_cases, `[[`, "", "id"), vapply(subgroup_cases, `[[`, "", "id"),
             vapply(permutation_cases, `[[`, "", "id"))
stopifnot(!any(duplicated(all_ids)))

js <- function(x) as.character(toJSON(x, auto_unbox = TRUE, digits = NA,
                                      na = "null", null = "null", matrix = "rowmajor"))
header <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/make_regression_reference.R"
)
lines <- c("{")
for (nm in names(header))
  lines <- c(lines, sprintf(" %s: %s,", js(nm), js(header[[nm]])))
sections <- list(regression_cases = regression_cases, subgroup_cases = subgroup_cases,
                 permutation_cases = permutation_cases)
for (si in seq_along(sections)) {
  lines <- c(lines, sprintf(" %s: [", js(names(sections)[si])))
  cs <- sections[[si]]
  for (i in seq_along(cs))
    lines <- c(lines, sprintf("  %s%s", js(cs[[i]]), if (i < length(cs)) "," else ""))
  lines <- c(lines, if (si < length(sections)) " ]," else " ]")
}
lines <- c(lines, "}")
writeLines(lines, out_file, useBytes = TRUE)

# sanity check + summary
chk <- fromJSON(out_file, simplifyVector = FALSE)
cat(sprintf("Wrote %s: %d regression, %d subgroup, %d permutation cases\n", out_file,
            length(chk$regression_cases), length(chk$subgroup_cases),
            length(chk$permutation_cases)))
if (length(notes)) cat(notes, sep = "\n")
