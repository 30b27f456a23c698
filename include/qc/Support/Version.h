//===- Version.h - what --version prints ------------------------*- C++ -*-===//

#ifndef QC_SUPPORT_VERSION_H
#define QC_SUPPORT_VERSION_H

namespace qc {

/// "quantc X.Y.Z (commit C, built with LLVM V)".
const char *versionText();

} // namespace qc

#endif // QC_SUPPORT_VERSION_H
