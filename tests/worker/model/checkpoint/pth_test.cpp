// .pth reading from checkpoints generated here (torch.save layout), so it runs without ../shared.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/model/checkpoint.hpp"

namespace reelscale::model {
namespace {

using testing::make_pth;
using testing::make_state_dict_pickle;
using testing::TensorSpec;

std::vector<float> floats(const TensorRecord& r) {
  EXPECT_EQ(r.dtype, DType::F32);
  std::vector<float> v(r.data.size() / 4);
  std::memcpy(v.data(), r.data.data(), r.data.size());
  return v;
}

std::vector<float> iota(std::size_t n, float start = 0) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// A checkpoint with the layouts torch.save produces: a plain tensor, a transposed view, two
// views of one shared storage at different offsets, a Parameter, fp16, bf16 and a scalar.
std::string sample_pth(const std::string& folder = "archive", bool zip64 = false,
                       testing::Wrap wrap = testing::Wrap::StateDictWithMeta) {
  std::vector<TensorSpec> t = {
      {"generator.conv.weight", "FloatStorage", "0", 24, 0, {2, 3, 2, 2}, {12, 4, 2, 1}},
      {"generator.conv.bias", "FloatStorage", "1", 2, 0, {2}, {1}, true},
      {"generator.proj.weight", "FloatStorage", "2", 6, 0, {3, 2}, {1, 3}},  // a .t() view
      {"generator.shared.a", "FloatStorage", "3", 10, 2, {2, 2}, {2, 1}},
      {"generator.shared.b", "FloatStorage", "3", 10, 1, {3}, {3}},
      {"generator.half", "HalfStorage", "4", 3, 0, {3}, {1}},
      {"generator.bf", "BFloat16Storage", "5", 2, 0, {2}, {1}},
      {"generator.scalar", "FloatStorage", "6", 1, 0, {}, {}},
      {"generator.steps", "LongStorage", "7", 1, 0, {1}, {1}},
  };
  std::map<std::string, std::string> s = {
      {"0", testing::f32_bytes(iota(24))},
      {"1", testing::f32_bytes({0.5f, -0.25f})},
      {"2", testing::f32_bytes(iota(6, 10))},
      {"3", testing::f32_bytes(iota(10, 100))},
      {"4", testing::u16_bytes({0x3C00, 0xC000, 0x3800})},  // 1, -2, 0.5
      {"5", testing::u16_bytes({0x3F80, 0xC0A0})},          // 1, -5
      {"6", testing::f32_bytes({42.0f})},
      {"7", std::string("\x05\0\0\0\0\0\0\0", 8)},
  };
  return make_pth(make_state_dict_pickle(t, wrap), s, folder, zip64);
}

TEST(Pth, ReadsTorchSaveLayoutWithViewsSharedStoragesAndDtypes) {
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip32");
    TensorTable t = read_checkpoint_bytes(sample_pth("my_model", zip64), "sample.pth");
    EXPECT_EQ(t.format, CheckpointFormat::Pth);
    EXPECT_EQ(t.source_key, "state_dict");
    EXPECT_EQ(t.stripped_prefix, "generator.");
    EXPECT_EQ(t.dropped, 0u);
    EXPECT_EQ(t.order, (std::vector<std::string>{"conv.weight", "conv.bias", "proj.weight", "shared.a", "shared.b",
                                                 "half", "bf", "scalar", "steps"}));
    EXPECT_EQ(t.tensors.at("conv.weight").shape, (std::vector<std::int64_t>{2, 3, 2, 2}));
    EXPECT_EQ(floats(t.tensors.at("conv.weight")), iota(24));
    EXPECT_EQ(floats(t.tensors.at("conv.bias")), (std::vector<float>{0.5f, -0.25f}));
    // proj is the transpose of [[10,11,12],[13,14,15]]: row-major [[10,13],[11,14],[12,15]].
    EXPECT_EQ(floats(t.tensors.at("proj.weight")), (std::vector<float>{10, 13, 11, 14, 12, 15}));
    EXPECT_EQ(floats(t.tensors.at("shared.a")), (std::vector<float>{102, 103, 104, 105}));
    EXPECT_EQ(floats(t.tensors.at("shared.b")), (std::vector<float>{101, 104, 107}));
    const auto& h = t.tensors.at("half");
    EXPECT_EQ(h.dtype, DType::F16);
    EXPECT_EQ(h.data, (std::vector<std::uint8_t>{0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38}));
    EXPECT_EQ(t.tensors.at("bf").dtype, DType::BF16);
    EXPECT_TRUE(t.tensors.at("scalar").shape.empty());
    EXPECT_EQ(floats(t.tensors.at("scalar")), (std::vector<float>{42}));
    EXPECT_EQ(t.tensors.at("steps").dtype, DType::I64);
    EXPECT_EQ(t.tensors.at("steps").data[0], 5);
  }
}

TEST(Pth, ShapesOnlyModeCopiesNoData) {
  TensorTable t = read_checkpoint_bytes(sample_pth(), "sample.pth", ReadMode::ShapesOnly);
  EXPECT_EQ(t.tensors.size(), 9u);
  EXPECT_TRUE(t.tensors.at("conv.weight").data.empty());
  CheckpointSummary s = summarize(t, "sample.pth");
  EXPECT_EQ(s.total_elements, 24 + 2 + 6 + 4 + 3 + 3 + 2 + 1 + 1);
  EXPECT_EQ(s.tensors[0].name, "conv.weight");
  EXPECT_EQ(s.tensors[0].numel, 24);
}

TEST(Pth, SelectsParamsAndTopLevelStateDicts) {
  std::vector<TensorSpec> spec = {{"conv.weight", "FloatStorage", "0", 4, 0, {4}, {1}}};
  std::map<std::string, std::string> s = {{"0", testing::f32_bytes({1, 2, 3, 4})}};
  TensorTable p = read_checkpoint_bytes(make_pth(make_state_dict_pickle(spec, testing::Wrap::Params), s), "p.pth");
  EXPECT_EQ(p.source_key, "params");
  EXPECT_EQ(p.stripped_prefix, "");
  EXPECT_EQ(floats(p.tensors.at("conv.weight")), (std::vector<float>{1, 2, 3, 4}));
  TensorTable top = read_checkpoint_bytes(make_pth(make_state_dict_pickle(spec, testing::Wrap::TopLevel), s), "t.pth");
  EXPECT_EQ(top.source_key, "");
  EXPECT_EQ(top.order, std::vector<std::string>{"conv.weight"});
}

TEST(Pth, KeepsGeneratorKeysAndDropsTheRestWhenMostHaveThePrefix) {
  std::vector<TensorSpec> spec = {
      {"generator.a", "FloatStorage", "0", 1, 0, {1}, {1}},
      {"generator.b", "FloatStorage", "0", 1, 0, {1}, {1}},
      {"discriminator.c", "FloatStorage", "0", 1, 0, {1}, {1}},
  };
  std::map<std::string, std::string> s = {{"0", testing::f32_bytes({1})}};
  TensorTable t = read_checkpoint_bytes(make_pth(make_state_dict_pickle(spec), s), "g.pth");
  EXPECT_EQ(t.order, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.dropped, 1u);
  // A minority of prefixed keys is left alone (strict loading then reports them).
  spec[1].key = "b";
  TensorTable u = read_checkpoint_bytes(make_pth(make_state_dict_pickle(spec), s), "g.pth");
  EXPECT_EQ(u.order, (std::vector<std::string>{"generator.a", "b", "discriminator.c"}));
  EXPECT_EQ(u.stripped_prefix, "");
  // DataParallel's "module." on every key goes too.
  std::vector<TensorSpec> dp = {{"module.x", "FloatStorage", "0", 1, 0, {1}, {1}}};
  EXPECT_EQ(read_checkpoint_bytes(make_pth(make_state_dict_pickle(dp), s), "m.pth").order, std::vector<std::string>{"x"});
}

TEST(Pth, ReadsFromAFileAndDetectsTheFormatByContentNotExtension) {
  testing::TempDir dir;
  write_file_atomic(dir / "weights.safetensors", sample_pth());  // misnamed on purpose
  TensorTable t = read_checkpoint((dir / "weights.safetensors").string());
  EXPECT_EQ(t.format, CheckpointFormat::Pth);
  EXPECT_EQ(t.tensors.size(), 9u);
  EXPECT_THROW(read_checkpoint((dir / "absent.pth").string()), Error);
}

// Every error is a reelscale::Error whose message contains `needle`.
void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    read_checkpoint_bytes(bytes, "bad.pth");
    ADD_FAILURE() << "no error; expected one mentioning: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.pth"), std::string::npos) << e.what();
  }
}

TEST(Pth, RefusesGlobalsOutsideTheAllowlistNamingThemAndTheirOffset) {
  testing::PickleWriter p;
  p.global("os", "system").str("echo pwned").op('\x85').op('R').stop();
  std::string pth = make_pth(p.bytes(), {});
  expect_error(pth, "'os.system' is not on the allowlist");
  expect_error(pth, "byte offset 2");
  testing::PickleWriter q;
  q.global("torch.storage", "_load_from_bytes").str("x").op('\x85').op('R').stop();
  expect_error(make_pth(q.bytes(), {}), "torch.storage._load_from_bytes");
  testing::PickleWriter r;
  r.global("builtins", "eval").stop();
  expect_error(make_pth(r.bytes(), {}), "builtins.eval");
}

TEST(Pth, ReportsStructuralErrorsClearly) {
  std::map<std::string, std::string> s = {{"0", testing::f32_bytes(iota(4))}};
  auto with = [&](TensorSpec t) { return make_pth(make_state_dict_pickle({t}), s); };
  expect_error(with({"w", "FloatStorage", "9", 4, 0, {4}, {1}}), "storage record 'archive/data/9' is missing");
  expect_error(with({"w", "FloatStorage", "0", 5, 0, {4}, {1}}), "holds 16 bytes but is declared as 5 float32");
  expect_error(with({"w", "FloatStorage", "0", 4, 1, {4}, {1}}), "reaches past the 4 elements");
  expect_error(with({"w", "FloatStorage", "0", 4, 0, {2, 2}, {3, 1}}), "reaches past");
  expect_error(with({"w", "FloatStorage", "0", 4, 0, {2, 2}, {1}}), "but stride has 1");
  expect_error(with({"w", "FloatStorage", "0", 4, 0, {-1}, {1}}), "negative size or stride");
  // A stride-0 view may exceed its storage, but not the allocation cap.
  CheckpointLimits small;
  small.max_tensor_bytes = 1024;
  EXPECT_THROW(read_checkpoint_bytes(with({"w", "FloatStorage", "0", 4, 0, {1000}, {0}}), "x", ReadMode::Data, small), Error);
  TensorTable ok = read_checkpoint_bytes(with({"w", "FloatStorage", "0", 4, 0, {3}, {0}}), "x");
  EXPECT_EQ(floats(ok.tensors.at("w")), (std::vector<float>{0, 0, 0}));
  expect_error(with({"w", "FloatStorage", "0", 4, 0, {int64_t{1} << 40, int64_t{1} << 40}, {0, 0}}), "overflows");

  expect_error("PK\x03\x04 not really a zip", "end-of-central-directory");
  expect_error(std::string("\x80\x02}q\x00.", 6), "legacy");
  expect_error("hello", "neither a torch.save zip archive nor a safetensors file");
  expect_error(testing::make_zip({{"archive/version", "3\n"}}), "no <folder>/data.pkl");
  testing::PickleWriter list;
  list.op(']').stop();
  expect_error(make_pth(list.bytes(), {}), "is a list, not a dict");
  testing::PickleWriter nontensor;
  nontensor.op('}').str("state_dict").op('}').str("w").integer(3).op('s').op('s').stop();
  expect_error(make_pth(nontensor.bytes(), {}), "entry 'w' is a int, not a tensor");
  testing::PickleWriter nosd;
  nosd.op('}').str("optimizer").integer(1).op('s').stop();
  expect_error(make_pth(nosd.bytes(), {}), "top-level keys: optimizer");
}

TEST(Pth, DetectsCorruptDataThroughTheZipCrc) {
  std::string pth = sample_pth();
  auto at = pth.find(testing::f32_bytes({0.5f, -0.25f}));
  ASSERT_NE(at, std::string::npos);
  pth[at + 1] ^= 0x40;
  expect_error(pth, "fails its CRC-32 check");
}

// Malformed input must give reelscale::Error (or load), never crash or throw anything else.
void must_not_crash(const std::string& bytes) {
  try {
    read_checkpoint_bytes(bytes, "fuzz.pth");
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-reelscale exception: " << e.what();
  }
}

TEST(Pth, TruncationAtEveryOffsetIsAnError) {
  const std::string pth = sample_pth();
  for (std::size_t n = 0; n < pth.size(); ++n) {
    std::string cut = pth.substr(0, n);
    try {
      read_checkpoint_bytes(cut, "cut.pth");
      ADD_FAILURE() << "a file cut to " << n << " of " << pth.size() << " bytes was accepted";
    } catch (const Error&) {
    }
  }
}

TEST(Pth, MutatedPicklesNeverCrash) {
  // The zip CRC would catch mutations of data.pkl, so mutate the pickle and re-zip it: this
  // drives the pickle parser and the tensor validation with every byte changed.
  std::vector<TensorSpec> t = {
      {"generator.a", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
      {"generator.b", "HalfStorage", "1", 2, 0, {2}, {1}, true},
      {"generator.c", "FloatStorage", "0", 6, 1, {2, 2}, {1, 2}},
  };
  std::map<std::string, std::string> s = {{"0", testing::f32_bytes(iota(6))}, {"1", testing::u16_bytes({1, 2})}};
  const std::string pkl = make_state_dict_pickle(t);
  for (std::size_t i = 0; i < pkl.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string m = pkl;
      m[i] = static_cast<char>(m[i] ^ x);
      must_not_crash(make_pth(m, s));
    }
    must_not_crash(make_pth(pkl.substr(0, i), s));
  }
}

TEST(Pth, FlippedBytesAnywhereInTheArchiveNeverCrash) {
  const std::string pth = sample_pth();
  for (std::size_t i = 0; i < pth.size(); ++i) {
    std::string m = pth;
    m[i] = static_cast<char>(~m[i]);
    must_not_crash(m);
  }
}

}  // namespace
}  // namespace reelscale::model
