//===- CommandLine.h - CLI11 conventions of the MLIR-free tools -*- C++ -*-===//
//
// quant-run and quant-bench parse their command lines with CLI11 (header
// only, so they stay free of LLVM): `--flag=value` and `--flag value`,
// `--help` (exit 0), `--version`. Numbers go through these option helpers
// instead of CLI11's own conversion, which reads "010" as octal and
// saturates out-of-range integers: here an integer is decimal, fits in
// int64, and lies in the option's stated range, or the command line is
// refused with the flag's name.
//
//===----------------------------------------------------------------------===//

#ifndef QC_SUPPORT_COMMANDLINE_H
#define QC_SUPPORT_COMMANDLINE_H

#include "qc/Support/Version.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>

namespace qc::cli {

/// Gives `app` quantc's --version.
inline void configure(CLI::App &app) {
  app.set_version_flag("--version", versionText());
  app.option_defaults()->always_capture_default();
}

/// Parses a whole decimal integer in [lo, hi]; on failure returns the reason.
inline std::string parseInteger(const std::string &text, int64_t lo, int64_t hi,
                                int64_t &out) {
  const char *begin = text.data(), *end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec == std::errc::result_out_of_range)
    return "'" + text + "' is out of range [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
  if (ec != std::errc() || ptr != end)
    return "'" + text + "' is not a decimal integer";
  if (out < lo || out > hi)
    return "'" + text + "' is out of range [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
  return "";
}

/// An integer option stored into `dest` (any integer type holding [lo, hi]).
template <typename Int>
CLI::Option *addInteger(CLI::App &app, const std::string &name, Int &dest,
                        const std::string &help, int64_t lo, int64_t hi) {
  static_assert(std::is_integral_v<Int>);
  CLI::Option *opt = app.add_option_function<std::string>(
      name,
      [&dest, lo, hi](const std::string &text) {
        int64_t v = 0;
        parseInteger(text, lo, hi, v); // checked by the validator below
        dest = Int(v);
      },
      help);
  opt->check(CLI::Validator(
      [lo, hi](std::string &text) {
        int64_t v = 0;
        return parseInteger(text, lo, hi, v);
      },
      "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"));
  opt->default_str(std::to_string(dest))->type_name("INT");
  return opt;
}

/// A finite floating-point option in [lo, hi].
template <typename Float>
CLI::Option *addFloat(CLI::App &app, const std::string &name, Float &dest,
                      const std::string &help, double lo, double hi) {
  CLI::Option *opt = app.add_option_function<std::string>(
      name, [&dest](const std::string &text) { dest = Float(std::stod(text)); },
      help);
  opt->check(CLI::Validator(
      [lo, hi](std::string &text) -> std::string {
        double v = 0;
        auto [ptr, ec] =
            std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || ptr != text.data() + text.size() ||
            !std::isfinite(v))
          return "'" + text + "' is not a finite number";
        if (v < lo || v > hi)
          return "'" + text + "' is out of range [" + std::to_string(lo) +
                 ", " + std::to_string(hi) + "]";
        return "";
      },
      ""));
  opt->default_str(std::to_string(dest))->type_name("NUMBER");
  return opt;
}

/// Runs app.parse; returns the exit code to leave with (0 for --help and
/// --version, 2 for a bad command line), or -1 to go on.
inline int parse(CLI::App &app, int argc, char **argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0) // --help, --version
      return app.exit(e);
    std::cerr << app.get_name() << ": error: " << e.what() << "\n"
              << "Run with --help for more information.\n";
    return 2;
  }
  return -1;
}

} // namespace qc::cli

#endif // QC_SUPPORT_COMMANDLINE_H
