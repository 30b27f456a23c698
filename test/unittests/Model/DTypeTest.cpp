//===- DTypeTest.cpp - Tests for qc::DType --------------------------------===//

#include "qc/Model/DType.h"

#include <gtest/gtest.h>

using namespace qc;

TEST(DTypeTest, NamesRoundTrip) {
  ASSERT_EQ(allDTypes().size(), 10u);
  for (DType type : allDTypes())
    EXPECT_EQ(parseDType(dtypeName(type)), type) << dtypeName(type);
}

TEST(DTypeTest, SafetensorsSpellingAndSizes) {
  EXPECT_EQ(parseDType("F32"), DType::F32);
  EXPECT_EQ(parseDType("BF16"), DType::BF16);
  EXPECT_EQ(parseDType("BOOL"), DType::Bool);
  EXPECT_EQ(dtypeName(DType::Bool), "BOOL");
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I32), 4u);
  EXPECT_EQ(dtypeSize(DType::U8), 1u);
  EXPECT_EQ(dtypeSize(DType::Bool), 1u);
}

TEST(DTypeTest, RejectsUnknownNames) {
  EXPECT_FALSE(parseDType("f32"));
  EXPECT_FALSE(parseDType("F8_E4M3"));
  EXPECT_FALSE(parseDType(""));
  EXPECT_FALSE(parseDType("BOOLEAN"));
}

TEST(DTypeTest, FloatingPoint) {
  EXPECT_TRUE(isFloatingPoint(DType::BF16));
  EXPECT_TRUE(isFloatingPoint(DType::F64));
  EXPECT_FALSE(isFloatingPoint(DType::I8));
  EXPECT_FALSE(isFloatingPoint(DType::Bool));
}
