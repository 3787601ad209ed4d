// The released-format checkpoints in ../shared/fixtures/basicvsrpp (random weights written by
// torch.save from the official network). No Python torch is available to produce ground truth,
// so the checks are: every key and shape equals the official architecture's, the tensor bytes
// equal the archive's raw storage bytes (found by an independent scan of the zip), the SPyNet
// normalisation buffers hold their known constants, and the weights have the documented
// initialisation statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/model/checkpoint.hpp"
#include "worker/model/safetensors_reader.hpp"

namespace reelscale::model {
namespace {

using Shape = std::vector<std::int64_t>;

// The official BasicVSR++ (mmedit basicvsr_pp.py) state dict, in registration order.
std::vector<std::pair<std::string, Shape>> basicvsrpp_keys(std::int64_t c, std::int64_t n) {
  std::vector<std::pair<std::string, Shape>> v;
  auto conv = [&](const std::string& name, std::int64_t o, std::int64_t i, std::int64_t k) {
    v.push_back({name + ".weight", {o, i, k, k}});
    v.push_back({name + ".bias", {o}});
  };
  auto blocks_with_input_conv = [&](const std::string& p, std::int64_t in, std::int64_t blocks) {
    conv(p + ".main.0", c, in, 3);
    for (std::int64_t b = 0; b < blocks; ++b) {
      conv(p + ".main.2." + std::to_string(b) + ".conv1", c, c, 3);
      conv(p + ".main.2." + std::to_string(b) + ".conv2", c, c, 3);
    }
  };
  v.push_back({"spynet.mean", {1, 3, 1, 1}});
  v.push_back({"spynet.std", {1, 3, 1, 1}});
  const std::int64_t sp[5][2] = {{32, 8}, {64, 32}, {32, 64}, {16, 32}, {2, 16}};
  for (int l = 0; l < 6; ++l)
    for (int j = 0; j < 5; ++j)
      conv("spynet.basic_module." + std::to_string(l) + ".basic_module." + std::to_string(j) + ".conv", sp[j][0], sp[j][1], 7);
  blocks_with_input_conv("feat_extract", 3, 5);
  const char* branches[] = {"backward_1", "forward_1", "backward_2", "forward_2"};
  for (int i = 0; i < 4; ++i) {
    const std::string m = branches[i];
    v.push_back({"deform_align." + m + ".weight", {c, 2 * c, 3, 3}});
    v.push_back({"deform_align." + m + ".bias", {c}});
    conv("deform_align." + m + ".conv_offset.0", c, 3 * c + 4, 3);
    conv("deform_align." + m + ".conv_offset.2", c, c, 3);
    conv("deform_align." + m + ".conv_offset.4", c, c, 3);
    conv("deform_align." + m + ".conv_offset.6", 27 * 16, c, 3);
  }
  for (int i = 0; i < 4; ++i) blocks_with_input_conv(std::string("backbone.") + branches[i], (2 + i) * c, n);
  blocks_with_input_conv("reconstruction", 5 * c, 5);
  conv("upsample1.upsample_conv", 4 * c, c, 3);
  conv("upsample2.upsample_conv", 4 * 64, c, 3);
  conv("conv_hr", 64, 64, 3);
  conv("conv_last", 3, 64, 3);
  return v;
}

std::map<std::string, Shape> as_map(const std::vector<std::pair<std::string, Shape>>& v) { return {v.begin(), v.end()}; }

// Raw records of a stored zip found by walking its local headers from the start: a second,
// independent way to find each storage's bytes. torch.save writes sizes in a data descriptor
// after the data (flag bit 3), so a record ends where a descriptor naming its length follows.
std::map<std::string, std::string> scan_local_records(const std::string& f) {
  std::map<std::string, std::string> out;
  auto u = [&](std::size_t off, int n) {
    std::uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= std::uint64_t(static_cast<unsigned char>(f.at(off + static_cast<std::size_t>(k)))) << (8 * k);
    return v;
  };
  std::size_t p = 0;
  while (p + 30 <= f.size() && u(p, 4) == 0x04034b50) {
    const std::size_t name_len = u(p + 26, 2), extra_len = u(p + 28, 2);
    const std::string name = f.substr(p + 30, name_len);
    const std::size_t data = p + 30 + name_len + extra_len;
    std::size_t d = data;
    while ((d = f.find("PK\x07\x08", d)) != std::string::npos && u(d + 8, 4) != d - data && u(d + 8, 8) != d - data) ++d;
    if (d == std::string::npos) break;
    out[name.substr(name.find('/') + 1)] = f.substr(data, d - data);
    const std::size_t next = f.find("PK\x03\x04", d);
    if (next == std::string::npos) break;
    p = next;
  }
  return out;
}

std::vector<float> floats(const TensorRecord& r) {
  std::vector<float> v(r.data.size() / 4);
  std::memcpy(v.data(), r.data.data(), r.data.size());
  return v;
}

void mean_std(const TensorRecord& r, double* mean, double* sd) {
  auto v = floats(r);
  double s = 0, s2 = 0;
  for (float x : v) s += x;
  *mean = s / static_cast<double>(v.size());
  for (float x : v) s2 += (x - *mean) * (x - *mean);
  *sd = std::sqrt(s2 / static_cast<double>(v.size()));
}

struct Case {
  const char* file;
  std::int64_t mid_channels, num_blocks;
  double gain;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

class Fixture : public ::testing::TestWithParam<Case> {};

TEST_P(Fixture, MatchesTheOfficialArchitectureAndTheArchiveBytes) {
  REELSCALE_REQUIRE_SHARED();
  const Case k = GetParam();
  const std::string path = (*testing::shared_dir() / "fixtures/basicvsrpp" / k.file).string();
  TensorTable t = read_checkpoint(path);
  EXPECT_EQ(t.format, CheckpointFormat::Pth);
  EXPECT_EQ(t.source_key, "state_dict");
  EXPECT_EQ(t.stripped_prefix, "generator.");
  EXPECT_EQ(t.dropped, 0u);

  const auto expected = basicvsrpp_keys(k.mid_channels, k.num_blocks);
  std::map<std::string, Shape> found;
  for (const auto& [name, r] : t.tensors) found[name] = r.shape;
  EXPECT_EQ(found, as_map(expected));
  EXPECT_EQ(t.order.size(), expected.size());

  std::int64_t params = 0;
  for (const auto& e : expected) {
    std::int64_t n = 1;
    for (auto d : e.second) n *= d;
    params += n;
  }
  CheckpointSummary s = summarize(path);
  EXPECT_EQ(s.total_elements, params);
  EXPECT_EQ(s.tensors.size(), expected.size());
  BasicVsrppArch a = infer_basicvsrpp_arch(s);
  EXPECT_EQ(a.mid_channels, k.mid_channels);
  EXPECT_EQ(a.num_blocks, k.num_blocks);
  EXPECT_EQ(a.num_reconstruction_blocks, 5);
  EXPECT_TRUE(a.low_res_input);
  EXPECT_EQ(a.parameters, params);

  // Every tensor here is a whole contiguous float32 storage: its bytes are the record's.
  const std::map<std::string, std::string> raw = scan_local_records(read_file(path));
  std::size_t compared = 0;
  for (const auto& [name, r] : t.tensors) {
    EXPECT_EQ(r.dtype, DType::F32) << name;
    std::string bytes(r.data.begin(), r.data.end());
    bool any = false;
    for (const auto& [rec, data] : raw)
      if (rec.rfind("data/", 0) == 0 && data == bytes) any = true;
    EXPECT_TRUE(any) << name << ": no storage record holds its bytes";
    compared += any;
  }
  EXPECT_EQ(compared, expected.size());

  // SPyNet's ImageNet normalisation buffers are constants.
  auto mean = floats(t.tensors.at("spynet.mean"));
  auto stdv = floats(t.tensors.at("spynet.std"));
  EXPECT_EQ(mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(stdv, (std::vector<float>{0.229f, 0.224f, 0.225f}));

  // Random init: conv weights normal with std sqrt(gain / fan_in), biases std 0.01.
  for (const char* name : {"backbone.forward_2.main.0.weight", "reconstruction.main.0.weight", "conv_hr.weight"}) {
    const TensorRecord& w = t.tensors.at(name);
    const double fan_in = static_cast<double>(w.shape[1] * w.shape[2] * w.shape[3]);
    double m = 0, sd = 0;
    mean_std(w, &m, &sd);
    EXPECT_NEAR(sd, std::sqrt(k.gain / fan_in), 0.06 * std::sqrt(k.gain / fan_in)) << name;
    EXPECT_NEAR(m, 0.0, 5 * sd / std::sqrt(static_cast<double>(w.numel()))) << name;
  }
  const TensorRecord& sw = t.tensors.at("spynet.basic_module.0.basic_module.0.conv.weight");
  EXPECT_EQ(sw.shape, (Shape{32, 8, 7, 7}));
  double m = 0, sd = 0;
  mean_std(sw, &m, &sd);
  EXPECT_NEAR(sd, std::sqrt(1.0 / (8 * 49)), 0.06 * std::sqrt(1.0 / (8 * 49)));
  mean_std(t.tensors.at("backbone.backward_1.main.0.bias"), &m, &sd);
  EXPECT_NEAR(sd, 0.01, 0.005);
}

TEST_P(Fixture, ConvertsToSafetensorsAndReadsBackIdentically) {
  REELSCALE_REQUIRE_SHARED();
  const std::string path = (*testing::shared_dir() / "fixtures/basicvsrpp" / GetParam().file).string();
  TensorTable t = read_checkpoint(path);
  std::vector<SafetensorsTensor> out;
  for (const auto& name : t.order) {
    const TensorRecord& r = t.tensors.at(name);
    out.push_back({"generator." + name, r.dtype, r.shape,
                   std::string_view(reinterpret_cast<const char*>(r.data.data()), r.data.size())});
  }
  TensorTable u = read_checkpoint_bytes(serialize_safetensors(out), "converted");
  EXPECT_EQ(u.order, t.order);
  for (const auto& name : t.order) EXPECT_EQ(u.tensors.at(name).data, t.tensors.at(name).data) << name;
}

INSTANTIATE_TEST_SUITE_P(Basicvsrpp, Fixture,
                         ::testing::Values(Case{"tiny_c16n2.pth", 16, 2, 1.0}, Case{"full_c64n7_random.pth", 64, 7, 0.8}),
                         [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.mid_channels == 16 ? "tiny" : "full"); });

TEST(FixtureKeys, FullModelHasTheKnownShapes) {
  REELSCALE_REQUIRE_SHARED();
  CheckpointSummary s = summarize((*testing::shared_dir() / "fixtures/basicvsrpp/full_c64n7_random.pth").string());
  std::map<std::string, Shape> by;
  for (const auto& t : s.tensors) by[t.name] = t.shape;
  EXPECT_EQ(by.at("conv_last.weight"), (Shape{3, 64, 3, 3}));
  EXPECT_EQ(by.at("spynet.basic_module.0.basic_module.0.conv.weight"), (Shape{32, 8, 7, 7}));
  EXPECT_EQ(by.at("deform_align.forward_1.conv_offset.6.weight"), (Shape{432, 64, 3, 3}));
  EXPECT_EQ(by.at("backbone.forward_2.main.0.weight"), (Shape{64, 320, 3, 3}));
  EXPECT_TRUE(by.count("backbone.forward_1.main.2.6.conv2.bias"));
  EXPECT_FALSE(by.count("backbone.forward_1.main.2.7.conv1.weight"));
}

TEST(FixtureKeys, TruncatedRealCheckpointsGiveErrorsNotCrashes) {
  REELSCALE_REQUIRE_SHARED();
  const std::string f = read_file(*testing::shared_dir() / "fixtures/basicvsrpp/tiny_c16n2.pth");
  // A cut anywhere loses the end-of-central-directory record or part of the directory.
  for (std::size_t n = 0; n < f.size(); n += (n < 30000 ? 997 : 300007)) {
    EXPECT_THROW(read_checkpoint_bytes(std::string_view(f).substr(0, n), "cut", ReadMode::ShapesOnly), Error) << n;
  }
  for (std::size_t n = f.size() - 5000; n < f.size(); n += 7)
    EXPECT_THROW(read_checkpoint_bytes(std::string_view(f).substr(0, n), "cut"), Error) << n;
}

TEST(Arch, InferenceRejectsWhatIsNotBasicVsrpp) {
  CheckpointSummary s;
  s.path = "other.pth";
  s.tensors.push_back({"conv.weight", DType::F32, {3, 3, 3, 3}, 81});
  try {
    infer_basicvsrpp_arch(s);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.pth: not a BasicVSR++ generator: no tensor 'feat_extract.main.0.weight'"),
              std::string::npos)
        << e.what();
  }
  // Branches with different block counts are inconsistent.
  CheckpointSummary b;
  b.path = "odd.pth";
  for (const auto& [name, shape] : basicvsrpp_keys(8, 2)) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    b.tensors.push_back({name, DType::F32, shape, n});
  }
  EXPECT_EQ(infer_basicvsrpp_arch(b).num_blocks, 2);
  b.tensors.push_back({"backbone.forward_2.main.2.2.conv1.weight", DType::F32, {8, 8, 3, 3}, 576});
  EXPECT_THROW(infer_basicvsrpp_arch(b), Error);
}

}  // namespace
}  // namespace reelscale::model
