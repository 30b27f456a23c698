//===- NumericsReportTest.cpp - Quantization error statistics tests -------===//

#include "qc/Quant/NumericsReport.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace qc::quant;

namespace {

TEST(NumericsReportTest, ComputesErrors) {
  std::vector<float> w = {3.0f, -4.0f, 0.0f, 0.0f};
  std::vector<float> q = {3.0f, -4.5f, 0.0f, 0.0f};
  auto r = computeNumericsReport(w, q);
  ASSERT_TRUE(r.isOk());
  EXPECT_DOUBLE_EQ(r->relFrobeniusError, 0.5 / 5.0);
  EXPECT_DOUBLE_EQ(r->maxAbsError, 0.5);
  EXPECT_NEAR(r->sqnrDb, 10.0 * std::log10(25.0 / 0.25), 1e-12);
  EXPECT_NE(r->toString().find("sqnr=20.000 dB"), std::string::npos)
      << r->toString();
}

TEST(NumericsReportTest, EdgeCases) {
  std::vector<float> w = {1.0f, 2.0f};
  auto exact = computeNumericsReport(w, w);
  ASSERT_TRUE(exact.isOk());
  EXPECT_EQ(exact->relFrobeniusError, 0.0);
  EXPECT_TRUE(std::isinf(exact->sqnrDb) && exact->sqnrDb > 0);
  std::vector<float> zeros = {0.0f, 0.0f};
  auto fromZero = computeNumericsReport(zeros, w);
  ASSERT_TRUE(fromZero.isOk());
  EXPECT_TRUE(std::isinf(fromZero->relFrobeniusError));
  std::vector<float> shorter = {1.0f};
  EXPECT_FALSE(computeNumericsReport(w, shorter).isOk());
  EXPECT_FALSE(computeNumericsReport({}, {}).isOk());
  std::vector<float> nan = {1.0f, NAN};
  EXPECT_FALSE(computeNumericsReport(w, nan).isOk());
}

} // namespace
