// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-cpu-quantized-contractions{tile-tokens=0}))" -verify-diagnostics -o /dev/null

// expected-error @below {{qc-cpu-quantized-contractions: tile-tokens must be at least 1, got 0}}
func.func @f() {
  return
}
