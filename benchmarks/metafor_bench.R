#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# metafor_bench.R -- timing baseline for metafor's rma(yi, vi, method="REML").
#
# Usage (from the repository root):
#   Rscript benchmarks/metafor_bench.R OUT.json
#
# Simulated data (set.seed(1)):  vi ~ U(0.01, 0.2),  yi ~ N(0.3, sqrt(0.05 + vi))
#   k = 10   : one data set, fitted 200 times  -> median seconds per fit (k10_s)
#   k = 1000 : one data set, fitted 5 times    -> median seconds per fit (k1000_s)
#   batch    : 200 different k = 10 data sets fitted back to back
#              -> total elapsed / 200 = seconds per fit (batch_k10_s)
# Output JSON: {"r_version", "metafor_version", "k10_s", "k1000_s",
#               "batch_k10_s", "n_rep_k10", "n_rep_k1000", "n_batch"}
# A reference tool only; not a CI dependency.
# -----------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript benchmarks/metafor_bench.R OUT.json")
out_file <- args[1]

set.seed(1)
sim <- function(k) {
  vi <- runif(k, 0.01, 0.2)
  yi <- rnorm(k, mean = 0.3, sd = sqrt(0.05 + vi))
  data.frame(yi = yi, vi = vi)
}

# Sys.time() has microsecond resolution on Linux (proc.time only ~1 ms)
time_one <- function(d) {
  t0 <- Sys.time()
  rma(yi, vi, data = d, method = "REML")
  as.numeric(difftime(Sys.time(), t0, units = "secs"))
}

n_rep_k10 <- 200L
n_rep_k1000 <- 5L
n_batch <- 200L

d10 <- sim(10)
d1000 <- sim(1000)
batch <- lapply(seq_len(n_batch), function(i) sim(10))

invisible(rma(yi, vi, data = d10, method = "REML"))   # warm-up

k10 <- vapply(seq_len(n_rep_k10), function(i) time_one(d10), numeric(1))
k1000 <- vapply(seq_len(n_rep_k1000), function(i) time_one(d1000), numeric(1))

t0 <- Sys.time()
for (d in batch) rma(yi, vi, data = d, method = "REML")
batch_total <- as.numeric(difftime(Sys.time(), t0, units = "secs"))

res <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  k10_s = median(k10),
  k1000_s = median(k1000),
  batch_k10_s = batch_total / n_batch,
  n_rep_k10 = n_rep_k10,
  n_rep_k1000 = n_rep_k1000,
  n_batch = n_batch
)
writeLines(as.character(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE)),
           out_file)
cat(sprintf("k=10: %.6f s/fit (median of %d); k=1000: %.6f s/fit (median of %d); batch k=10: %.6f s/fit\n",
            res$k10_s, n_rep_k10, res$k1000_s, n_rep_k1000, res$batch_k10_s))
