//===- Version.cpp - what --version prints --------------------------------===//
//
// The only file that includes the generated qc/Version.inc, so that a new
// commit recompiles this file and relinks, nothing more.
//
//===----------------------------------------------------------------------===//

#include "qc/Support/Version.h"

#include "qc/Version.inc"

const char *qc::versionText() { return QC_VERSION_TEXT; }
