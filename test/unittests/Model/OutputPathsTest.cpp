//===- OutputPathsTest.cpp - outputs never clobber inputs or strangers ----===//

#include "qc/Model/OutputPaths.h"

#include "ModelTestUtil.h"

#include <filesystem>
#include <sys/stat.h>

using namespace qc;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(OutputPathsTest, RefusesInputsTheirInsidesAndTheirParents) {
  test::ScopedTempDir dir;
  std::string model = dir.file("model");
  fs::create_directories(model + "/sub");
  for (const std::string &target :
       {model, model + "/", model + "/out", model + "/sub/../out", dir.path()})
    EXPECT_NE(
        test::errorOf(StagedDirectory::create(target, {model}, "manifest.json"))
            .find("lies inside the input"),
        std::string::npos)
        << target;
  EXPECT_TRUE(checkOutsideInputs(dir.file("elsewhere"), {model}));
}

TEST(OutputPathsTest, ReplacesOnlyEarlierOutputsOfItsKind) {
  test::ScopedTempDir dir;
  test::writeFile(dir.file("file"), "x");
  EXPECT_NE(test::errorOf(
                StagedDirectory::create(dir.file("file"), {}, "manifest.json"))
                .find("not a directory"),
            std::string::npos);
  fs::create_directories(dir.file("stranger"));
  test::writeFile(dir.file("stranger/notes.txt"), "mine");
  EXPECT_NE(test::errorOf(StagedDirectory::create(dir.file("stranger"), {},
                                                  "manifest.json"))
                .find("refusing to replace it"),
            std::string::npos);
  fs::create_directories(dir.file("empty"));
  EXPECT_TRUE(StagedDirectory::create(dir.file("empty"), {}, "manifest.json"));
}

TEST(OutputPathsTest, ANewOutputAppearsOnlyWhenCommitted) {
  test::ScopedTempDir dir;
  std::string pkg = dir.file("pkg");
  {
    StatusOr<StagedDirectory> staged =
        StagedDirectory::create(pkg, {}, "manifest.json");
    ASSERT_TRUE(staged) << staged.status().message();
    test::writeFile(staged->path() + "/manifest.json", "new");
    EXPECT_FALSE(fs::exists(pkg));
  } // dropped uncommitted: nothing appears, the staging is gone
  EXPECT_FALSE(fs::exists(pkg));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                          fs::directory_iterator()),
            0);

  fs::create_directories(pkg);
  test::writeFile(pkg + "/manifest.json", "old");
  test::writeFile(pkg + "/stale.bin", "old");
  {
    StatusOr<StagedDirectory> staged =
        StagedDirectory::create(pkg, {}, "manifest.json");
    ASSERT_TRUE(staged) << staged.status().message();
    test::writeFile(staged->path() + "/manifest.json", "new");
    EXPECT_EQ(readFile(pkg + "/manifest.json"), "old");
    Status committed = staged->commit();
    ASSERT_TRUE(committed) << committed.message();
  }
  // The old output is replaced whole: no file of it survives.
  EXPECT_EQ(readFile(pkg + "/manifest.json"), "new");
  EXPECT_FALSE(fs::exists(pkg + "/stale.bin"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                          fs::directory_iterator()),
            1);
}

TEST(OutputPathsTest, FilesReplaceOnlyRegularFiles) {
  test::ScopedTempDir dir;
  EXPECT_TRUE(checkReplaceableFile(dir.file("new")));
  test::writeFile(dir.file("regular"), "x");
  EXPECT_TRUE(checkReplaceableFile(dir.file("regular")));
  fs::create_symlink(dir.file("regular"), dir.file("link"));
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  for (const char *name : {"link", "fifo", ""})
    EXPECT_NE(test::errorOf(checkReplaceableFile(dir.file(name)))
                  .find("not a regular file"),
              std::string::npos)
        << name;
}

} // namespace
