// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-warp-contractions{row-threads=48}))" -verify-diagnostics -o /dev/null

// A row's threads are whole warps.
// expected-error @below {{qc-warp-contractions: column-lanes must be 0 or divide 32 and column-warps, column-unroll, column-tile-unroll and column-tokens be at least 1, and row-threads a multiple of 32 up to 1024, got 4, 8, 16, 8, 4, 48}}
func.func @f() {
  return
}
