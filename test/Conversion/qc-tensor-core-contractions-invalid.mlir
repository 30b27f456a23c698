// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_80 tile-tokens=24}))" -verify-diagnostics -o /dev/null

// Tiles are whole fragments.
// expected-error @below {{qc-tensor-core-contractions: tile-tokens must be a multiple of 16, tile-features of 8 and k-split positive}}
func.func @f() {
  return
}
