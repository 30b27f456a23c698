//===- SHA256Test.cpp - digests against FIPS 180-4 / NIST vectors ---------===//

#include "qc/Model/SHA256.h"

#include "ModelTestUtil.h"

using namespace qc;

namespace {

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

TEST(SHA256Test, MatchesTheStandardVectors) {
  EXPECT_EQ(sha256Hex(bytesOf("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex(bytesOf("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits the first padding block.
  EXPECT_EQ(sha256Hex(bytesOf(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256Hex(bytesOf(million)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SHA256Test, HashesFilesAndRefusesWhatIsNotOne) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/f";
  test::writeFile(path, "abc");
  StatusOr<std::string> digest = sha256File(path);
  ASSERT_TRUE(digest) << digest.status().message();
  EXPECT_EQ(*digest, sha256Hex(bytesOf("abc")));
  EXPECT_FALSE(sha256File(dir.path()));
  EXPECT_FALSE(sha256File(dir.path() + "/missing"));
}

} // namespace
