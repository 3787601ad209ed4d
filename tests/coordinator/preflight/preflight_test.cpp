// Every setting that used to fail only after the whole upscale now fails in `validate` and in
// `run` before any work: exit 2, the key named, no work directory made, no output written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include <fstream>

#include "coordinator/preflight/checks.hpp"
#include "coordinator/preflight/preflight.hpp"
#include "coordinator/subtitles/tesseract_engine.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/media/iso639.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace reelscale {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

fs::path sample_film() {
  sample::SampleSpec spec;
  spec.seconds = 2;
  return testing::cached_sample(spec);
}

// The sample film with every stream's tags dropped (a rip without language tags), but the
// subtitle streams tagged `subtitle_language` when given.
fs::path untagged_copy(const fs::path& film, const fs::path& out, const std::string& subtitle_language = "") {
  auto in = av::open_input(film.string());
  AVFormatContext* raw = nullptr;
  av::check(avformat_alloc_output_context2(&raw, nullptr, "matroska", out.c_str()), "output");
  av::OutputFormatPtr o(raw);
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    AVStream* s = avformat_new_stream(raw, nullptr);
    av::check(avcodec_parameters_copy(s->codecpar, in->streams[i]->codecpar), "copy");
    s->codecpar->codec_tag = 0;
    s->time_base = in->streams[i]->time_base;
    if (!subtitle_language.empty() && s->codecpar->codec_type == AVMEDIA_TYPE_SUBTITLE)
      av_dict_set(&s->metadata, "language", subtitle_language.c_str(), 0);
  }
  av::check(avio_open(&raw->pb, out.c_str(), AVIO_FLAG_WRITE), "open");
  av::check(avformat_write_header(raw, nullptr), "header");
  av::PacketPtr p = av::make_packet();
  while (av_read_frame(in.get(), p.get()) >= 0) {
    av_packet_rescale_ts(p.get(), in->streams[p->stream_index]->time_base, raw->streams[p->stream_index]->time_base);
    av::check(av_interleaved_write_frame(raw, p.get()), "write");
  }
  av::check(av_write_trailer(raw), "trailer");
  return out;
}

struct Job {
  testing::TempDir dir;
  fs::path config;
  // A config for `input` with `extra` YAML appended; output out.mkv (or as `extra` says).
  explicit Job(const fs::path& input, const std::string& extra = "", bool default_output = true) {
    config = dir / "film.yaml";
    write_file_atomic(config, "input: " + input.string() + "\n" +
                                  (default_output ? "output: " + (dir / "out.mkv").string() + "\n" : "") +
                                  "workers:\n  local: 1\n  endpoint: tcp://127.0.0.1:*\n" + extra);
  }
};

// `validate` and `run` both refuse with `expected` in stderr, exit 2; `run` leaves no trace.
void expect_refused_before_any_work(const Job& job, const std::string& expected, const fs::path& work) {
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_EQ(v.exit_code, 2) << v.out << v.err;
  EXPECT_THAT(v.err, HasSubstr(expected));
  const auto r = testing::run_cli({"run", job.config.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(expected));
  EXPECT_FALSE(fs::exists(work)) << "run made " << work << " before refusing";
}

TEST(Preflight, MovWithTheDefaultFlacAudioIsRefused) {
  Job job(sample_film(), "mux:\n  container: mov\n", false);
  const fs::path out = job.dir / "out.mov";
  {
    std::ofstream(job.config, std::ios::app) << "output: " << out.string() << "\n";
  }
  expect_refused_before_any_work(job, "film.yaml: error: mux.container: flac audio (stream #1) cannot be stored in mov",
                                 job.dir / "out.mov.work");
  // What libavformat said, and the fix.
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_THAT(v.err, HasSubstr("retime.audio_codec: aac or ac3"));
  // The same container with AAC audio and no bitmap subtitles is fine: no false refusal of
  // the OCR'd text (written as mov_text).
  const auto ok = testing::run_cli({"validate", job.config.string(), "--set", "retime.audio_codec=aac", "--set",
                                    "subtitles.keep_bitmap=false"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(Preflight, AudioAndSubtitleLanguageOnAnUntaggedSourceAreRefused) {
  testing::TempDir media;
  const fs::path untagged = untagged_copy(sample_film(), media / "untagged.mkv");
  Job job(untagged, "audio:\n  select: [ger]\nsubtitles:\n  select: [ger]\n");
  expect_refused_before_any_work(job, "error: audio.select: 'ger' matches no audio stream", job.dir / "out.mkv.work");
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_THAT(v.err, HasSubstr("tags no language on its audio streams; select them by stream index (1)"));
  EXPECT_THAT(v.err, HasSubstr("error: subtitles.select: 'ger' matches no subtitle stream"));
}

TEST(Preflight, AudioLanguageWrittenInAnotherIso639FormIsNamedAsTagged) {
  Job job(sample_film(), "audio:\n  select: [en]\n");  // the sample tags "eng"
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err, HasSubstr("'en' matches no audio stream"));
  EXPECT_THAT(v.err, HasSubstr("write 'eng' as the file tags it"));
}

TEST(Preflight, MissingTesseractLanguageIsRefusedWithItsDebianPackage) {
  Job job(sample_film(), "ocr:\n  languages: [eng, xyz]\n");
  expect_refused_before_any_work(job, "error: ocr.languages: Tesseract has no data for 'xyz'", job.dir / "out.mkv.work");
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_THAT(v.err, HasSubstr("install the Debian package tesseract-ocr-xyz"));
  EXPECT_THAT(v.err, Not(HasSubstr("'eng'"))) << "eng is installed";
  // ISO 639-1 and 639-2/B codes are mapped to Tesseract's names (639-2/T).
  const auto de = testing::run_cli({"validate", job.config.string(), "--set", "ocr.languages=[de]"});
  EXPECT_EQ(de.exit_code, 2);
  EXPECT_THAT(de.err, HasSubstr("'de' is not a Tesseract language name: Tesseract calls it 'deu'"));
  const auto fre = testing::run_cli({"validate", job.config.string(), "--set", "ocr.languages=[fre]"});
  EXPECT_THAT(fre.err, HasSubstr("Tesseract calls it 'fra'"));
}

// A German DVD stream with no OCR language configured is read in German: without
// tesseract-ocr-deu the run is refused before any work, naming the package (issue 20).
TEST(Preflight, StreamLanguageWithoutItsTesseractDataIsRefusedWithItsPackage) {
  testing::TempDir media, tessdata;
  const fs::path german = untagged_copy(sample_film(), media / "german.mkv", "ger");
  Job job(german);
  const auto ok = testing::run_cli({"validate", job.config.string()});
  const bool has_deu = ok.exit_code == 0;
  if (has_deu) EXPECT_THAT(ok.out, HasSubstr("OK"));
  // A Tesseract data directory holding English only.
  const fs::path installed = subtitles::tesseract_language("eng").datapath;
  fs::create_symlink(installed / "eng.traineddata", tessdata / "eng.traineddata");
  ASSERT_TRUE(fs::exists(tessdata / "eng.traineddata")) << "tesseract-ocr-eng is not installed";
  setenv("TESSDATA_PREFIX", tessdata.path().c_str(), 1);
  expect_refused_before_any_work(job, "error: subtitles.ocr_languages: " + german.string() +
                                          ": subtitle stream #2 (language 'ger'): Tesseract language data 'deu' is "
                                          "not installed (apt-get install tesseract-ocr-deu",
                                 job.dir / "out.mkv.work");
  // Told to read it in English, it is accepted.
  const auto told = testing::run_cli({"validate", job.config.string(), "--set", "subtitles.ocr_languages=[2=eng]"});
  unsetenv("TESSDATA_PREFIX");
  EXPECT_EQ(told.exit_code, 0) << told.err;
  EXPECT_TRUE(has_deu) << "tesseract-ocr-deu (scripts/install-deps.sh) should be installed: " << ok.err;
}

TEST(Preflight, RetimeThatChangesTheSpeedTooMuchFailsValidate) {
  sample::SampleSpec spec;
  spec.seconds = 2;
  spec.fps_num = 50;
  // 50 fps video is delivered at its rate (retime by source kind); a source_fps that says it
  // is film asks for the 2x slow-down, which is refused.
  Job job(testing::cached_sample(spec), "retime:\n  source_fps: 50\n");
  expect_refused_before_any_work(job, "retime: 50 -> 24 fps would play the film 2.08x slower", job.dir / "out.mkv.work");
}

TEST(Preflight, CheckpointMissingOrNotBasicVsrppIsRefused) {
  Job job(sample_film(), "model:\n  backend: basicvsrpp\n  checkpoint: nowhere.pth\n");
  expect_refused_before_any_work(job, "error: model.checkpoint: " + (job.dir / "nowhere.pth").string() + " does not exist",
                                 job.dir / "out.mkv.work");
  write_file_atomic(job.dir / "nowhere.pth", "not a checkpoint at all");
  expect_refused_before_any_work(job, "error: model.checkpoint: " + (job.dir / "nowhere.pth").string() + ": ",
                                 job.dir / "out.mkv.work");
}

// A well-formed checkpoint of another network is refused by the torch-free reader: the
// coordinator does not load the model library to check it (here there is none to load).
TEST(Preflight, CheckpointOfAnotherNetworkIsRefusedWithoutTheModelLibrary) {
  const std::string header = R"({"conv.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[size_t(i)] = char((header.size() >> (8 * i)) & 0xFF);
  file += header + std::string(4, '\0');
  Job job(sample_film(), "model:\n  backend: basicvsrpp\n  checkpoint: other.safetensors\n");
  write_file_atomic(job.dir / "other.safetensors", file);
  ::setenv("REELSCALE_MODEL_LIBRARY", (job.dir / "no-model-library.so").c_str(), 1);
  expect_refused_before_any_work(job, "model.checkpoint: " + (job.dir / "other.safetensors").string() +
                                          ": not a BasicVSR++ generator: no tensor 'feat_extract.main.0.weight'", job.dir / "out.mkv.work");
  ::unsetenv("REELSCALE_MODEL_LIBRARY");
}

TEST(Preflight, PresetCheckpointIsLookedUpInTheModelsFolderAndVerified) {
  testing::TempDir models;
  testing::ScopedEnv env("REELSCALE_MODELS", models.path().c_str());
  const std::string file = "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bd_20210305-ab315ab1.pth";
  const std::string url = "https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/" + file;
  Job job(sample_film(), "model:\n  checkpoint: vimeo-bd\n");
  // Missing: the URL and a ready download line, before any work.
  expect_refused_before_any_work(job, "error: model.checkpoint: " + (models / file).string() + " does not exist",
                                 job.dir / "out.mkv.work");
  auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_THAT(v.err, HasSubstr("curl -L --create-dirs -o " + (models / file).string() + " " + url));
  // Present but not the released bytes (an interrupted download): both hash prefixes named.
  write_file_atomic(models / file, "the first bytes of a download");
  expect_refused_before_any_work(job, "its name says ab315ab1: the file is damaged or incomplete",
                                 job.dir / "out.mkv.work");
  // A 1x decompression preset is no upscaler: a config error.
  v = testing::run_cli({"validate", job.config.string(), "--set", "model.checkpoint=ntire-decompress-1"});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err, HasSubstr("ntire-decompress-1 is a 1x model"));
}

TEST(Preflight, OutputOverTheInputIsRefusedAndTheSourceKept) {
  testing::TempDir media;
  const fs::path film = media / "film.mkv";
  fs::copy_file(sample_film(), film);
  const auto size = fs::file_size(film);
  Job job(film, "output: " + film.string() + "\n", false);
  expect_refused_before_any_work(job, "error: output: " + film.string() + " is the input", film.string() + ".work");
  EXPECT_EQ(fs::file_size(film), size);
}

TEST(Preflight, OutputInsideTheWorkDirOrWorkDirHoldingTheInputIsRefused) {
  testing::TempDir media;
  const fs::path film = media / "film.mkv";
  fs::copy_file(sample_film(), film);
  Job inside_job(film, "work_dir: " + (media / "w").string() + "\noutput: " + (media / "w/out.mkv").string() + "\n", false);
  expect_refused_before_any_work(inside_job, "error: output: " + (media / "w/out.mkv").string() + " lies inside work_dir",
                                 media / "w");
  Job holding(film, "work_dir: " + media.path().string() + "\n");
  const auto v = testing::run_cli({"validate", holding.config.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err, HasSubstr("error: work_dir: " + media.path().string() + " holds the input"));
}

TEST(Preflight, StorageDirHoldingTheInputIsRefused) {
  testing::TempDir media;
  const fs::path film = media / "film.mkv";
  fs::copy_file(sample_film(), film);
  Job job(film, "storage:\n  dir: " + media.path().string() + "\n");
  expect_refused_before_any_work(job, "error: storage.dir: " + media.path().string() + " holds the input",
                                 job.dir / "out.mkv.work");
}

// Another job's input is known from its config beside this one, or from the effective config
// its run left in its work directory beside this job's output (paths.cpp).
TEST(Preflight, OutputThatIsAnotherJobsInputIsRefused) {
  testing::TempDir media;
  const fs::path film_a = media / "a.mkv", film_b = media / "b.mkv";
  fs::copy_file(sample_film(), film_a);
  fs::copy_file(sample_film(), film_b);
  const auto size = fs::file_size(film_a);
  write_file_atomic(media / "a.yaml", "input: a.mkv\noutput: a.restored.mkv\n");
  Job b(film_b, "output: " + film_a.string() + "\n", false);
  fs::copy_file(b.config, media / "b.yaml");
  b.config = media / "b.yaml";
  expect_refused_before_any_work(b, "error: output: " + film_a.string() + " is the input of another job (" +
                                        (media / "a.yaml").string() + ")", film_a.string() + ".work");
  EXPECT_EQ(fs::file_size(film_a), size);
  fs::remove(media / "a.yaml");
  EXPECT_EQ(testing::run_cli({"validate", b.config.string()}).exit_code, 0) << "the other job is gone";

  // Job A's config lives elsewhere; its run left its effective config in a.restored.mkv.work.
  write_file_atomic(media / "a.restored.mkv.work/effective-config.yaml",
                    "input: " + film_a.string() + "\noutput: " + (media / "a.restored.mkv").string() + "\n");
  Job c(film_b, "output: " + film_a.string() + "\n", false);
  const auto v = testing::run_cli({"validate", c.config.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err, HasSubstr("error: output: " + film_a.string() + " is the input of another job (" +
                               (media / "a.restored.mkv.work/effective-config.yaml").string() + ")"));
  // A job's own work directory (its effective config names its own input) is not another job.
  Job own(film_a, "work_dir: " + (media / "a.restored.mkv.work").string() + "\noutput: " +
                      (media / "a.restored.mkv").string() + "\n", false);
  EXPECT_EQ(testing::run_cli({"validate", own.config.string()}).exit_code, 0);
}

TEST(Preflight, MissingInputIsRefusedBeforeTheWorkDirIsMade) {
  testing::TempDir dir;
  Job job(dir / "no-such-film.mkv");
  expect_refused_before_any_work(job, "error: input: " + (dir / "no-such-film.mkv").string() + " does not exist",
                                 job.dir / "out.mkv.work");
  // --no-input: the schema and the settings alone.
  const auto v = testing::run_cli({"validate", "--no-input", job.config.string()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_THAT(v.out, HasSubstr("OK"));
}

TEST(Preflight, EveryProblemIsListedAtOnce) {
  Job job(sample_film(), "mux:\n  container: mov\naudio:\n  select: [9]\nocr:\n  languages: [xyz]\n", false);
  {
    std::ofstream(job.config, std::ios::app) << "output: " << (job.dir / "out.mov").string() << "\n";
  }
  const auto v = testing::run_cli({"validate", job.config.string()});
  EXPECT_EQ(v.exit_code, 2);
  EXPECT_THAT(v.err, HasSubstr("error: audio.select: '9' is not one of the audio streams"));
  EXPECT_THAT(v.err, HasSubstr("error: ocr.languages:"));
  EXPECT_THAT(v.err, HasSubstr("error: mux.container:"));
}

// What the CLI cannot produce from a generated film: a stream without a sample rate, a
// delivery encoder this libavcodec lacks.
TEST(PreflightChecks, AudioStreamWithoutSampleRateIsRefused) {
  config::Config cfg;
  media::ProbeResult p;
  p.path = "film.vob";
  media::AudioStreamInfo a;
  a.index = 1;
  a.codec = "ac3";
  a.channels = 2;
  p.audio.push_back(a);
  preflight::Problems out;
  preflight::check_stream_selection(cfg, p, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "audio.select");
  EXPECT_THAT(out[0].reason, HasSubstr("audio stream #1 (ac3) states no sample rate"));
}

TEST(PreflightChecks, DeliveryEncoderMissingIsRefused) {
  config::Config cfg;
  cfg.delivery.enabled = true;
  cfg.delivery.codec = "no_such_encoder";
  preflight::Problems out;
  preflight::check_delivery(cfg, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "delivery.codec");
  EXPECT_THAT(out[0].reason, HasSubstr("needs the no_such_encoder encoder"));
  cfg.delivery.codec = "hevc10";  // libx265, which Debian's libavcodec has
  out.clear();
  preflight::check_delivery(cfg, out);
  EXPECT_TRUE(out.empty());
}

TEST(PreflightChecks, Iso639CodesMapToTheTerminologyForm) {
  EXPECT_EQ(media::iso639_terminology("de"), "deu");
  EXPECT_EQ(media::iso639_terminology("ger"), "deu");
  EXPECT_EQ(media::iso639_terminology("fra"), "fra");
  EXPECT_EQ(media::iso639_terminology("xyz"), std::nullopt);
}

}  // namespace
}  // namespace reelscale
