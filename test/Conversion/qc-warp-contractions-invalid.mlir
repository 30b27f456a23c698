// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-warp-contractions{column-lanes=5}))" -verify-diagnostics -o /dev/null

// A warp row is a whole number of word columns.
// expected-error @below {{qc-warp-contractions: column-lanes must be 0 or divide 32 and column-warps, column-unroll, column-tile-unroll and column-tokens be at least 1, and row-threads a multiple of 32 up to 1024, got 5, 8, 16, 8, 4, 1024}}
func.func @f() {
  return
}

