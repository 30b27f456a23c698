//===- SamplingTest.cpp - Tests for sampling parameters and streams -------===//

#include "qc/runtime/Sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace qc;
using namespace qc::runtime;

namespace {

// Random123's known-answer vectors (kat_vectors, "philox4x32 10").
TEST(SamplingTest, PhiloxMatchesKnownAnswers) {
  using Words = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}),
            (Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                       {0xa4093822, 0x299f31d0}),
            (Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

std::string validationError(const SamplingParams &p, int32_t vocab = 0) {
  Status s = p.validate(vocab);
  return s.isOk() ? "" : s.message();
}

TEST(SamplingTest, ValidatesRanges) {
  SamplingParams p;
  EXPECT_EQ(validationError(p), "");
  EXPECT_EQ(validationError(SamplingParams::makeGreedy()), "");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();

  auto with = [](auto field, auto value) {
    SamplingParams q;
    q.*field = value;
    return q;
  };
  using P = SamplingParams;
  EXPECT_EQ(validationError(with(&P::temperature, 0.0f)), "");
  EXPECT_TRUE(with(&P::temperature, 0.0f).isGreedy());
  for (float t : {-1.0f, 1e-7f, nan, inf})
    EXPECT_NE(validationError(with(&P::temperature, t)).find("temperature"),
              std::string::npos)
        << t;
  EXPECT_NE(validationError(with(&P::temperature, nan)).find("nan"),
            std::string::npos);
  EXPECT_NE(validationError(with(&P::topK, -1)).find("top_k -1"),
            std::string::npos);
  EXPECT_EQ(validationError(with(&P::topK, 50), 100), "");
  EXPECT_EQ(validationError(with(&P::topK, 101), 100),
            "sampling: top_k 101 exceeds the vocabulary size 100");
  for (float t : {0.0f, -0.5f, 1.5f, nan})
    EXPECT_NE(validationError(with(&P::topP, t)).find("top_p"),
              std::string::npos)
        << t;
  EXPECT_EQ(validationError(with(&P::topP, 1.0f)), "");
  for (float r : {0.0f, -1.0f, inf, nan})
    EXPECT_NE(validationError(with(&P::repetitionPenalty, r))
                  .find("repetition_penalty"),
              std::string::npos)
        << r;
  // Greedy requests are validated too: a bad field is a client bug.
  SamplingParams greedy = SamplingParams::makeGreedy();
  greedy.topP = 2.0f;
  EXPECT_NE(validationError(greedy), "");
}

TEST(SamplingTest, StreamsAreKeyedBySeedOrRequest) {
  SamplingParams seeded;
  seeded.seed = 42;
  SamplingParams unseeded;
  // A user seed reproduces across request ids and engine seeds.
  EXPECT_EQ(RngStream::forRequest(seeded, 1, 7).key(),
            RngStream::forRequest(seeded, 2, 8).key());
  EXPECT_EQ(RngStream::forRequest(unseeded, 1, 7).key(),
            RngStream::forRequest(unseeded, 1, 7).key());
  EXPECT_NE(RngStream::forRequest(unseeded, 1, 7).key(),
            RngStream::forRequest(unseeded, 1, 8).key());
  EXPECT_NE(RngStream::forRequest(unseeded, 1, 7).key(),
            RngStream::forRequest(unseeded, 2, 7).key());

  RngStream rng = RngStream::forRequest(unseeded, 3, 11);
  EXPECT_EQ(rng.uniform(5), rng.uniform(5));
  EXPECT_NE(rng.uniform(5), rng.uniform(6));
  EXPECT_NE(rng.bits(5, 0), rng.bits(5, 1));
  // The documented layout: word i % 4 of block i / 4.
  EXPECT_EQ(rng.bits(5, 6), philox4x32(RngStream::counter(5, 1), rng.key())[2]);
  EXPECT_EQ(rng.bits(uint64_t(1) << 40),
            philox4x32({0, 0, 0, 1u << 8}, rng.key())[0]);

  double sum = 0;
  for (uint64_t step = 0; step < 20000; ++step) {
    float u = rng.uniform(step);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 20000, 0.5, 0.01);
}

TEST(SamplingTest, BatchPacksRowsForTheKernel) {
  SamplingParams a;
  a.temperature = 0.7f;
  a.topK = 40;
  a.topP = 0.9f;
  a.repetitionPenalty = 1.1f;
  SamplingParams b = SamplingParams::makeGreedy();
  RngStream ra({1, 2}), rb({3, 4});
  SamplingBatch batch;
  batch.append(a, ra, 7);
  batch.append(b, rb, (uint64_t(2) << 32) + 9);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch.greedy, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(batch.temperature[0], 0.7f);
  EXPECT_EQ(batch.topK[0], 40);
  EXPECT_EQ(batch.topP[0], 0.9f);
  EXPECT_EQ(batch.repetitionPenalty[0], 1.1f);
  EXPECT_EQ(batch.rngKey, (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(batch.rngCounter, (std::vector<uint32_t>{0, 0, 7, 0, 0, 0, 9, 2}));
}

} // namespace
