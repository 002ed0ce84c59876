# Reference for tests/test_q5_messages.py: metafor's escalc of the change-score measures for one
# group of Morris (2008)'s treatment data (dat.morris2008 row 1: m_pre 30.6, sd_pre 15, m_post 38.5,
# sd_post 11.6, r 0.47) at n = 1, 2, 3, 20, and with a change-score SD or baseline SD of 0.
# Run: Rscript tests/reference/make_change_small_n_reference.R > tests/reference/change_small_n.json
suppressMessages({library(metafor); library(jsonlite)})
calls <- list()
cases <- list()
add <- function(id, measure, m1i, m2i, sd1i, sd2i, ni, ri) {
  e <- suppressWarnings(escalc(measure, m1i = m1i, m2i = m2i, sd1i = sd1i, sd2i = sd2i, ni = ni, ri = ri))
  call <- sprintf('escalc("%s", m1i = %s, m2i = %s, sd1i = %s, sd2i = %s, ni = %s, ri = %s)',
                  measure, m1i, m2i, sd1i, sd2i, ni, ri)
  cases[[length(cases) + 1]] <<- list(id = id, measure = measure, call = call, ni = ni,
                                      yi = if (is.na(e$yi)) NULL else as.numeric(e$yi),
                                      vi = if (is.na(e$vi)) NULL else as.numeric(e$vi))
}
# metak's single-arm records: SMCR/SMCRH standardise by sd1i = the baseline SD; MC/SMCC take sd1i = final SD
for (n in c(1, 2, 3, 20)) {
  add(sprintf("MC_n%d", n), "MC", 38.5, 30.6, 11.6, 15, n, 0.47)
  add(sprintf("SMCC_n%d", n), "SMCC", 38.5, 30.6, 11.6, 15, n, 0.47)
  add(sprintf("SMCR_n%d", n), "SMCR", 38.5, 30.6, 15, 11.6, n, 0.47)
  add(sprintf("SMCRH_n%d", n), "SMCRH", 38.5, 30.6, 15, 11.6, n, 0.47)
}
add("SMCC_sdchange0", "SMCC", 38.5, 30.6, 15, 15, 20, 1)
add("SMCR_sdpre0", "SMCR", 38.5, 30.6, 0, 11.6, 20, 0.47)
cat(toJSON(list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                cmicalc = paste(deparse(metafor:::.cmicalc), collapse = "\n"),
                cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"))
