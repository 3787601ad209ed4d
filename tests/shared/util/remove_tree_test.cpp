#include "shared/util/remove_tree.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;

TEST(RemoveTree, RemovesNestedDirectoriesAndFiles) {
  testing::TempDir dir;
  const fs::path root = dir / "tree";
  fs::create_directories(root / "a" / "b");
  std::ofstream(root / "a" / "b" / "f.txt") << "x";
  std::ofstream(root / "g.txt") << "y";
  std::error_code ec;
  EXPECT_EQ(remove_tree(root, ec), 5u);  // tree, a, b and the two files
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(fs::exists(root));
}

TEST(RemoveTree, RemovesALinkButNotWhatItPointsTo) {
  testing::TempDir dir;
  fs::create_directories(dir / "kept");
  std::ofstream(dir / "kept" / "f.txt") << "x";
  fs::create_directories(dir / "tree");
  fs::create_directory_symlink(dir / "kept", dir / "tree" / "link");
  std::error_code ec;
  remove_tree(dir / "tree", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(fs::exists(dir / "tree"));
  EXPECT_TRUE(fs::exists(dir / "kept" / "f.txt"));
}

TEST(RemoveTree, AMissingPathOrAPlainFileIsFine) {
  testing::TempDir dir;
  std::error_code ec;
  EXPECT_EQ(remove_tree(dir / "absent", ec), 0u);
  EXPECT_FALSE(ec);
  std::ofstream(dir / "file") << "x";
  EXPECT_EQ(remove_tree(dir / "file", ec), 1u);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(fs::exists(dir / "file"));
}

TEST(RemoveTree, ReportsWhatItCannotRemove) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may remove entries of a read-only directory";
  testing::TempDir dir;
  fs::create_directories(dir / "ro" / "sub");
  fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  std::error_code ec;
  remove_tree(dir / "ro", ec);
  EXPECT_TRUE(ec);
  fs::permissions(dir / "ro", fs::perms::owner_all);
}

}  // namespace
}  // namespace reelscale
