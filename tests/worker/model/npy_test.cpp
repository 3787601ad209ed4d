#include "worker/model/npy.hpp"

#include <gtest/gtest.h>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::model {
namespace {

TEST(Npy, RoundTripsShapeAndData) {
  ::reelscale::testing::TempDir dir;
  const std::vector<float> data{0.f, 1.5f, -2.f, 3.25f, 4.f, 5.f};
  write_npy(dir / "a.npy", {1, 2, 3}, data.data());
  const std::string bytes = read_file(dir / "a.npy");
  EXPECT_EQ((bytes.find('\n') + 1) % 64, 0u) << "data must start 64-byte aligned";
  const NpyArray a = read_npy(dir / "a.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(a.data, data);
}

TEST(Npy, OneDimensionalShapeKeepsTheTupleComma) {
  const float v[2] = {1.f, 2.f};
  const std::string b = encode_npy({2}, v);
  EXPECT_NE(b.find("'shape': (2,)"), std::string::npos);
  EXPECT_EQ(parse_npy(b).shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(parse_npy(encode_npy({}, v)).data.size(), 1u);  // a scalar
}

TEST(Npy, RejectsWhatItCannotRead) {
  const float v[4] = {};
  std::string good = encode_npy({2, 2}, v);
  EXPECT_THROW(parse_npy("not numpy"), MediaError);
  EXPECT_THROW(parse_npy(good.substr(0, good.size() - 4)), MediaError);  // truncated payload
  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<i4");
  EXPECT_THROW(parse_npy(f8), MediaError);
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THROW(parse_npy(fortran), MediaError);
}

TEST(Npy, ReadsTheFixtures) {
  REELSCALE_REQUIRE_SHARED();
  const NpyArray a = read_npy(*::reelscale::testing::shared_dir() / "fixtures/basicvsrpp/tiny_input.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 6, 3, 64, 96}));
  EXPECT_EQ(a.data.size(), a.numel());
}

}  // namespace
}  // namespace reelscale::model
