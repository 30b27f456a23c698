// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-tile-features=24}))" -verify-diagnostics -o /dev/null
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-tile-features=256 wgmma-stages=6}))" -verify-diagnostics -o /dev/null
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-tile-tokens=96}))" -verify-diagnostics -o /dev/null
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-tile-tokens=128 wgmma-tile-features=48}))" -verify-diagnostics -o /dev/null

// A wgmma instruction's n is a multiple of 16 (24 is not); 6 buffers of
// (64 + 256) rows x 128 bytes (+ 1 KiB of alignment) exceed the 227 KiB a
// Hopper block can opt in to; a block has one or two warpgroups of 64
// tokens (not 96), and the 16-byte copies of the weights' rows split evenly
// over its threads only for features a multiple of 16 a warpgroup (two
// warpgroups: 48 is not a multiple of 32).
// expected-error @below {{qc-tensor-core-contractions: wgmma-tile-tokens must be 64 or 128, wgmma-tile-features a multiple of 16 per warpgroup up to 256, wgmma-stages at least 3, and their buffers}}
func.func @f() {
  return
}
