// RUN: quant-opt %s --qc-weight-layouts="chip=sm_75" -verify-diagnostics -o /dev/null

// expected-error @below {{qc-weight-layouts: unknown chip 'sm_75' (expected cpu, sm_80, sm_90a, gfx90a or gfx942)}}
module {
}
