#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "shared/config/config.hpp"
#include "shared/config/schema.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/shared/config/config_error.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::config {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(Config, MinimalConfigGetsTheDocumentedDefaults) {
  const Config c = load_from_string("input: /films/a.vob\n");
  EXPECT_EQ(c.input, "/films/a.vob");
  EXPECT_EQ(c.output, "/films/a.reelscale.mkv");
  EXPECT_EQ(c.work_dir, "/films/a.reelscale.mkv.work");
  EXPECT_EQ(c.ledger, "/films/a.reelscale.mkv.work/ledger.sqlite");
  EXPECT_EQ(c.storage.dir, "/films/a.reelscale.mkv.work/shards");
  EXPECT_EQ(to_string(c.model.effective_backend()), "bicubic");
  EXPECT_EQ(c.retime.target_fps, (Rational{24, 1}));
  EXPECT_FALSE(c.retime.source_fps.has_value());
  EXPECT_EQ(c.scenes.detectors, (std::vector<std::string>{"content", "threshold"}));
}

// The schema's defaults and the struct's initialisers must agree, or code that builds a Config
// directly would behave differently from a loaded one.
TEST(Config, SchemaDefaultsEqualStructInitialisers) {
  Config loaded = load_from_string("input: x\n");
  Config plain;
  plain.input = loaded.input;
  const YAML::Node a = dump(loaded), b = dump(plain);
  for (const auto& f : fields()) {
    if (f.default_yaml.empty()) continue;  // derived paths
    YAML::Emitter ea, eb;
    ea << f.dump(loaded);
    eb << f.dump(plain);
    EXPECT_EQ(std::string(ea.c_str()), std::string(eb.c_str())) << f.path;
  }
}

TEST(Config, UnknownKeyNamesLineColumnPathAndSuggestion) {
  const std::string err = error_of("input: a.vob\nscenes:\n  contnet:\n    threshold: 30\n");
  EXPECT_THAT(err, HasSubstr("film.yaml:3:3: error: scenes.contnet: unknown key 'contnet'"));
  EXPECT_THAT(err, HasSubstr("did you mean 'scenes.content'?"));
}

TEST(Config, KeyInTheWrongSectionSaysWhereItBelongs) {
  const std::string err = error_of("input: a.vob\nmodel:\n  fade_bias: 0.5\n");
  EXPECT_THAT(err, HasSubstr("film.yaml:3:3: error: model.fade_bias: unknown key"));
  EXPECT_THAT(err, HasSubstr("scenes.threshold.fade_bias"));
}

// A value of the wrong type, out of range or not among the choices: the error names it.
struct RejectedValue {
  const char* yaml;
  const char* error;
};

class ConfigRejects : public ::testing::TestWithParam<RejectedValue> {};

TEST_P(ConfigRejects, NamesTheKeyAndWhatWasExpected) {
  EXPECT_THAT(error_of(GetParam().yaml), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(WrongTypes, ConfigRejects, ::testing::Values(
    RejectedValue{"input: a\nshards:\n  overlap: lots\n", "film.yaml:3:12: error: shards.overlap: expected an integer, got 'lots'"},
    RejectedValue{"input: a\nscenes:\n  content:\n    threshold: [1]\n", "scenes.content.threshold: expected a number, got a list"},
    RejectedValue{"input: a\nmodel:\n  tf32: maybe\n", "model.tf32: expected true or false"},
    RejectedValue{"input: a\nscenes: 5\n", "film.yaml:2:9: error: scenes: expected a mapping"},
    RejectedValue{"input: a\nocr:\n  languages: eng\n", "ocr.languages: expected a list"},
    RejectedValue{"input: a\nscenes:\n  content:\n    weights: [1, 1]\n", "expected a list of 4 numbers"}));

INSTANTIATE_TEST_SUITE_P(OutOfRangeAndInvalidChoices, ConfigRejects, ::testing::Values(
    RejectedValue{"input: a\nscenes:\n  content:\n    threshold: 300\n", "film.yaml:4:16: error: scenes.content.threshold: value 300 is out of range (must be between 0 and 255)"},
    RejectedValue{"input: a\nencode:\n  gpu_queue_frames: 0\n", "film.yaml:3:21: error: encode.gpu_queue_frames: value 0 is out of range"},
    RejectedValue{"input: a\nmodel:\n  precision: fp8\n", "model.precision: invalid value 'fp8' (expected one of fp16, bf16, fp32)"},
    RejectedValue{"input: a\npreprocess:\n  crop: 10x10\n", "preprocess.crop: invalid value '10x10' (expected one of none, auto, or W:H:X:Y)"},
    RejectedValue{"input: a\nscenes:\n  detectors: [content, histogram]\n", "invalid entry 'histogram'"},
    RejectedValue{"input: a\nretime:\n  target_fps: fast\n", "expected a frame rate"},
    RejectedValue{"input: a\nworkers:\n  endpoint: localhost\n", "tcp://HOST:PORT"}));

TEST(Config, EveryErrorIsReportedAtOnce) {
  const std::string err = error_of("input: a\nmodel:\n  precision: fp8\n  chunk: -1\nshards:\n  overlapp: 3\n");
  EXPECT_THAT(err, HasSubstr("model.precision"));
  EXPECT_THAT(err, HasSubstr("model.chunk"));
  EXPECT_THAT(err, HasSubstr("shards.overlapp"));
}

TEST(Config, MissingInputIsAnError) {
  EXPECT_THAT(error_of("model:\n  backend: bicubic\n"), HasSubstr("missing required key 'input'"));
  EXPECT_THAT(error_of(""), HasSubstr("missing required key 'input'"));
}

TEST(Config, InvalidYamlSyntaxNamesThePosition) {
  EXPECT_THAT(error_of("input: a\nscenes: [\n"), HasSubstr("film.yaml:"));
  EXPECT_THAT(error_of("input: a\nscenes: [\n"), HasSubstr("invalid YAML"));
}

TEST(Config, DuplicateKeyIsAnError) {
  EXPECT_THAT(error_of("input: a\ninput: b\n"), HasSubstr("film.yaml:2:1: error: input: key given twice"));
}

TEST(Config, CrossFieldChecks) {
  EXPECT_THAT(error_of("input: a\nshards:\n  min_frames: 2000\n  target_frames: 1000\n"),
              HasSubstr("film.yaml:3:15: error: shards.min_frames: must not exceed shards.target_frames"));
  EXPECT_THAT(error_of("input: a\nmodel:\n  backend: basicvsrpp\n"), HasSubstr("basicvsrpp needs model.checkpoint"));
  EXPECT_THAT(error_of("input: a\nworkers:\n  security: none\n  endpoint: tcp://0.0.0.0:5555\n"),
              HasSubstr("only allowed on a loopback endpoint"));
  EXPECT_EQ(error_of("input: a\nworkers:\n  security: none\n  endpoint: tcp://127.0.0.1:5555\n"), "");
}

TEST(Config, SetOverridesAnyField) {
  const Config c = load_from_string("input: a\n", "film.yaml",
                                    {"model.precision=bf16", "scenes.content.threshold=30",
                                     "retime.target_fps=24000/1001", "ocr.languages=[eng, deu]",
                                     "model.chunk=auto"});
  EXPECT_EQ(to_string(c.model.precision), "bf16");
  EXPECT_DOUBLE_EQ(c.scenes.content.threshold, 30);
  EXPECT_EQ(c.retime.target_fps, (Rational{24000, 1001}));
  EXPECT_EQ(c.ocr.languages, (std::vector<std::string>{"eng", "deu"}));
  EXPECT_EQ(c.model.chunk, 0);
}

TEST(Config, SetErrorsNameTheOverride) {
  EXPECT_THAT(error_of("input: a\n", {"model.precison=fp16"}),
              HasSubstr("--set model.precison=fp16: error: unknown key 'model.precison' (did you mean 'model.precision'?)"));
  EXPECT_THAT(error_of("input: a\n", {"model.precision=fp8"}),
              HasSubstr("--set model.precision=fp8: error: model.precision: invalid value 'fp8'"));
  EXPECT_THAT(error_of("input: a\n", {"novalue"}), HasSubstr("expected key.path=value"));
}

TEST(Config, NtscRatesBecomeExactFractions) {
  EXPECT_EQ(load_from_string("input: a\nretime:\n  target_fps: 23.976\n").retime.target_fps,
            (Rational{24000, 1001}));
  EXPECT_EQ(load_from_string("input: a\nretime:\n  source_fps: 25\n").retime.source_fps,
            (Rational{25, 1}));
}

TEST(Config, RelativePathsAreRelativeToTheConfigFile) {
  testing::TempDir dir;
  write_file_atomic(dir / "film.yaml", "input: media/film.vob\noutput: out/film.mkv\n");
  const Config c = load(dir / "film.yaml");
  EXPECT_EQ(c.input, (dir.path() / "media/film.vob").string());
  EXPECT_EQ(c.output, (dir.path() / "out/film.mkv").string());
}

TEST(Config, UnreadableFileIsAConfigError) {
  EXPECT_THROW(load("/nonexistent/film.yaml"), ConfigError);
}

TEST(Config, LumaOnlySetsTheWeights) {
  const Config c = load_from_string("input: a\nscenes:\n  content:\n    luma_only: true\n");
  EXPECT_EQ(c.scenes.content.weights, (std::vector<double>{0, 0, 1, 0}));
}

TEST(Config, VideoHashChangesOnlyWithWhatChangesThePixels) {
  const std::string base = video_config_hash(load_from_string("input: a\n"));
  EXPECT_EQ(base, video_config_hash(load_from_string("input: a\nencode:\n  threads: 4\n")));
  EXPECT_EQ(base, video_config_hash(load_from_string("input: a\nshards:\n  target_frames: 1000\n")));
  EXPECT_EQ(base, video_config_hash(load_from_string("input: a\nmodel:\n  offload: on\n")));
  EXPECT_EQ(base, video_config_hash(load_from_string("input: a\nencode:\n  gpu_queue_frames: 32\n")));
  EXPECT_NE(base, video_config_hash(load_from_string("input: a\nencode:\n  codec: ffv1\n")));
  // The CUDA and libavcodec ProRes encoders write different bytes (docs/prores.md): the device
  // is hashed as written.
  EXPECT_NE(base, video_config_hash(load_from_string("input: a\nencode:\n  device: gpu\n")));
  EXPECT_NE(video_config_hash(load_from_string("input: a\nencode:\n  device: cpu\n")),
            video_config_hash(load_from_string("input: a\nencode:\n  device: gpu\n")));
  EXPECT_NE(base, video_config_hash(load_from_string("input: a\nmodel:\n  overlap: 4\n")));
}

TEST(Config, DumpRoundTrips) {
  const Config c = load_from_string("input: a\nmodel:\n  precision: bf16\n");
  YAML::Emitter out;
  out << dump(c);
  const Config again = load_from_string(out.c_str());
  EXPECT_EQ(video_config_hash(c), video_config_hash(again));
  EXPECT_EQ(to_string(again.model.precision), "bf16");
}

TEST(ConfigDocs, ReferenceInDocsIsUpToDate) {
  const std::string doc = read_file(testing::source_dir() / "docs/configuration.md");
  EXPECT_EQ(doc, reference_markdown()) << "regenerate: reelscale config reference > docs/configuration.md";
}

TEST(ConfigDocs, ShippedConfigsValidate) {
  for (const auto& entry : fs::directory_iterator(testing::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(load(entry.path())) << entry.path();
  }
}

}  // namespace
}  // namespace reelscale::config
