# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANTC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qc_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "data", "Inputs", "fuzz",
                   "unittests"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# Test data (committed models, reference outputs, malformed inputs).
config.substitutions.append(("%models", os.path.join(config.qc_src_root, "models")))
config.substitutions.append(("%testdata", os.path.join(config.qc_src_root, "test", "data")))

tools = [
    ToolSubst("quant-opt", unresolved="fatal"),
    ToolSubst("quant-compile", unresolved="fatal"),
]
# `lit --param runtime_tools=DIR` runs the suite with DIR's quant-run and
# quant-bench (scripts/test.sh: the sanitized MLIR-free build's).
runtime_tools = lit_config.params.get("runtime_tools")
for name in ["quant-run", "quant-bench"]:
    if runtime_tools:
        tools.append(ToolSubst(name, command=os.path.join(runtime_tools, name)))
    else:
        tools.append(ToolSubst(name, unresolved="fatal"))
llvm_config.add_tool_substitutions(tools, [config.qc_tools_dir, config.llvm_tools_dir])

# Cubins are assembled by the CUDA toolkit's ptxas (QC_CUDA_TOOLKIT_DIR);
# PTX, hsaco and AMDGPU assembly need nothing beyond LLVM and Debian's
# rocm-device-libs.
if os.path.exists(os.path.join(config.qc_cuda_toolkit_dir, "bin", "ptxas")):
    config.available_features.add("ptxas")

# CPU packages take AVX2 kernels (int8 activations) where this machine has it.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        if " avx2" in cpuinfo.read():
            config.available_features.add("x86-avx2")
except OSError:
    pass
