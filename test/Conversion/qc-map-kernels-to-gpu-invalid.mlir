// RUN: quant-opt %s --qc-map-kernels-to-gpu="threads=0" -verify-diagnostics -o /dev/null
// RUN: not quant-compile %models/quantc-tiny-llama --target=sm_90a --emit=llvm --gpu-options="threads=0" -o /dev/null 2>&1 | FileCheck %s --check-prefix=CLI

// A block of 0 threads once divided by zero while tiling (SIGFPE); the
// option is checked first, through quant-compile's --gpu-options too.
// expected-error @below {{qc-map-kernels-to-gpu: threads must be between 1 and 1024, got 0}}
module {
}
// CLI: qc-map-kernels-to-gpu: threads must be between 1 and 1024, got 0
