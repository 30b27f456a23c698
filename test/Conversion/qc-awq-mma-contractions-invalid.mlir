// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-awq-mma-contractions{tile-tokens=12}))" -verify-diagnostics -o /dev/null

// A block's tokens are whole n8 tiles of mma.sync.
// expected-error @below {{qc-awq-mma-contractions: max-tokens must be at least 0, tile-tokens a positive multiple of 8, warps 1 to 32 and unroll at least 1, got 16, 12, 8, 4}}
func.func @f() {
  return
}
