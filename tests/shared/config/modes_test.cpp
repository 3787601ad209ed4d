// Modes are enums parsed once, at config load (shared/config/modes.hpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "shared/config/config.hpp"
#include "shared/config/modes.hpp"
#include "shared/config/schema.hpp"
#include "shared/util/errors.hpp"
#include "tests/shared/config/config_error.hpp"

namespace reelscale::config {
namespace {

using ::testing::HasSubstr;

template <class E>
class ModeWords : public ::testing::Test {};
using AllModes = ::testing::Types<ScenesPreset, FlashFilter, ThresholdMethod, Backend, Precision, ModelDevice,
                                  Offload, Deinterlace, DeinterlaceRate, Telecine, ColorMatrix, Vfr, ShardCodec,
                                  EncodeDevice, NtscFilm, AudioRetime, AudioCodec, Security, StorageMode, Container>;
TYPED_TEST_SUITE(ModeWords, AllModes);

TYPED_TEST(ModeWords, EveryWordRoundTripsAndNamesOneValue) {
  const auto& names = mode_names<TypeParam>();
  ASSERT_FALSE(names.empty());
  for (const auto& n : names) {
    const auto parsed = parse_mode<TypeParam>(n.name);
    ASSERT_TRUE(parsed.has_value()) << n.name;
    EXPECT_EQ(*parsed, n.value) << n.name;
    EXPECT_EQ(to_string(*parsed), n.name);
    for (const auto& other : names) {
      if (&other != &n) EXPECT_NE(other.value, n.value) << n.name << " and " << other.name;
    }
  }
  EXPECT_FALSE(parse_mode<TypeParam>("").has_value());
  EXPECT_FALSE(parse_mode<TypeParam>("no-such-mode").has_value());
}

// Every mode key of the schema: each allowed word loads, dumps back as written, and a wrong
// word is refused naming the file, line, column, key and the allowed words.
TEST(ModeKeys, EveryAllowedWordLoadsAndDumpsAsWritten) {
  const std::vector<std::string> keys = {
      "scenes.preset", "scenes.content.flash_filter", "scenes.threshold.method", "model.backend",
      "model.precision", "model.device", "model.offload", "preprocess.deinterlace",
      "preprocess.deinterlace_rate", "preprocess.telecine", "preprocess.colormatrix", "preprocess.vfr",
      "encode.codec", "encode.device", "retime.ntsc_film", "retime.audio", "retime.audio_codec",
      "workers.security", "storage.mode", "mux.container"};
  for (const std::string& key : keys) {
    const FieldSpec* f = find_field(key);
    ASSERT_NE(f, nullptr) << key;
    const std::string prefix = "one of: ";
    ASSERT_EQ(f->type.rfind(prefix, 0), 0u) << key;
    std::stringstream list(f->type.substr(prefix.size()));
    for (std::string w; std::getline(list, w, ',');) {
      w = w.substr(w.find_first_not_of(' '));
      // backend basicvsrpp needs a checkpoint; security none a loopback endpoint (the default).
      const Config c = load_from_string("input: a\nmodel:\n  checkpoint: w.pth\n", "film.yaml", {key + "=\"" + w + "\""});
      YAML::Node node = dump(c);
      for (size_t start = 0;;) {
        const size_t dot = key.find('.', start);
        node.reset(node[key.substr(start, dot == std::string::npos ? dot : dot - start)]);
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      EXPECT_EQ(node.Scalar(), w) << key;
    }
  }
}

TEST(ModeKeys, AWrongWordNamesTheKeyLineAndAllowedWords) {
  EXPECT_THAT(error_of("input: a\nstorage:\n  mode: streem\n"),
              HasSubstr("film.yaml:3:9: error: storage.mode: invalid value 'streem' (expected one of shared, stream)"));
  EXPECT_THAT(error_of("input: a\nretime:\n  ntsc_film: 25\n"),
              HasSubstr("film.yaml:3:14: error: retime.ntsc_film: invalid value '25' (expected one of keep, 24)"));
  EXPECT_THAT(error_of("input: a\n", {"workers.security=plain"}),
              HasSubstr("--set workers.security=plain: error: workers.security: invalid value 'plain' "
                        "(expected one of curve, none)"));
}

// The video config hash is computed from the dumped words: the values before modes became
// enums (computed with the string-typed config) must stay, or every resume redoes its shards.
TEST(ModeKeys, TheVideoConfigHashKeepsItsValue) {
  EXPECT_EQ(video_config_hash(load_from_string("input: a\n")), "1f4400cc7d7ce9d5");
  EXPECT_EQ(video_config_hash(load_from_string(
                "input: a\nmodel:\n  precision: bf16\n  backend: bicubic\npreprocess:\n  deinterlace: yadif\n"
                "  deinterlace_rate: field\n  telecine: none\n  colormatrix: bt601-to-bt709\n  vfr: convert\n"
                "encode:\n  codec: ffv1\n  device: cpu\n")),
            "02af6e9ba5abd5ef");
}

TEST(ModeKeys, EffectiveBackendResolvesAuto) {
  Model m;
  EXPECT_EQ(m.effective_backend(), Backend::bicubic);
  m.checkpoint = "w.pth";
  EXPECT_EQ(m.effective_backend(), Backend::basicvsrpp);
  m.backend = Backend::bicubic;
  EXPECT_EQ(m.effective_backend(), Backend::bicubic);
}

}  // namespace
}  // namespace reelscale::config
