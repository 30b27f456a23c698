// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_80 staged-tile-tokens=128 staged-tile-features=128 stages=3}))" -verify-diagnostics -o /dev/null

// The staged kernel's buffers (3 x 256 rows x 80 bytes) exceed the 48 KiB
// of static shared memory a block may take.
// expected-error @below {{qc-tensor-core-contractions: staged-tile-tokens, staged-tile-features and staged-tile-depth must be multiples of 32, stages at least 2, and their buffers (61440 bytes) within 49152 bytes of shared memory}}
func.func @f() {
  return
}
