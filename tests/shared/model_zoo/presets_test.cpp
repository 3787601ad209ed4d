// Released-checkpoint presets, the models folder, and the checks made before any tensor is read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>


#include "shared/model_zoo/presets.hpp"
#include "shared/model_zoo/verify.hpp"
#include "shared/config/config.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "tests/shared/config/config_error.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::model_zoo {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testing::ScopedEnv;

// A file named OpenMMLab's way after its own content's SHA-256: "<stem>-<8 hex>.pth".
fs::path write_named_by_hash(const fs::path& dir, const std::string& stem, const std::string& content) {
  const fs::path tmp = dir / "unnamed";
  write_file_atomic(tmp, content);
  const fs::path named = dir / (stem + "-" + file_sha256_hex(tmp).substr(0, 8) + ".pth");
  fs::rename(tmp, named);
  return named;
}

TEST(CheckpointPresets, EveryReleaseHasItsUrlAndHashPrefix) {
  EXPECT_EQ(preset_names(), "reds4, vimeo-bi, vimeo-bd, ntire-decompress-1, ntire-decompress-2, ntire-decompress-3");
  EXPECT_EQ(preset_names(4), "reds4, vimeo-bi, vimeo-bd");
  const Preset* reds4 = find_preset("reds4");
  ASSERT_NE(reds4, nullptr);
  EXPECT_EQ(preset_url(*reds4),
            "https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/"
            "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth");
  EXPECT_EQ(released_hash_prefix(*reds4), "db622b2f");
  EXPECT_EQ(released_hash_prefix(*find_preset("vimeo-bd")), "ab315ab1");
  const Preset* track3 = find_preset("ntire-decompress-3");
  ASSERT_NE(track3, nullptr);
  EXPECT_EQ(track3->scale, 1);
  EXPECT_EQ(track3->mid_channels, 128);
  EXPECT_EQ(track3->num_blocks, 25);
  EXPECT_EQ(find_preset("reds"), nullptr);
  EXPECT_EQ(preset_for_file("/x/" + reds4->file), reds4);
  EXPECT_EQ(preset_for_hash("db622b2f0123"), reds4);
}

TEST(CheckpointPresets, NameHashPrefixFollowsOpenMmlabsConvention) {
  EXPECT_EQ(name_hash_prefix("a/b_20210217-db622b2f.pth"), "db622b2f");
  EXPECT_EQ(name_hash_prefix("model.pth"), "");
  EXPECT_EQ(name_hash_prefix("model-DB622B2F.pth"), "");  // OpenMMLab writes lowercase
  EXPECT_EQ(name_hash_prefix("model-db622b2f.safetensors"), "");
  EXPECT_EQ(name_hash_prefix("model_db622b2f.pth"), "");
}

TEST(CheckpointPresets, ModelsFolderIsReelscaleModelsElseTheUsersDataDir) {
  {
    ScopedEnv models("REELSCALE_MODELS", "/opt/models");
    EXPECT_EQ(models_dir(), fs::path("/opt/models"));
    EXPECT_EQ(resolve_checkpoint("/cfg", "vimeo-bd"),
              "/opt/models/basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bd_20210305-ab315ab1.pth");
  }
  ScopedEnv models("REELSCALE_MODELS", nullptr);
  {
    ScopedEnv xdg("XDG_DATA_HOME", "/data");
    EXPECT_EQ(models_dir(), fs::path("/data/reelscale/models"));
  }
  ScopedEnv xdg("XDG_DATA_HOME", nullptr);
  ScopedEnv home("HOME", "/home/u");
  EXPECT_EQ(models_dir(), fs::path("/home/u/.local/share/reelscale/models"));
  // Anything that is not a preset name stays a path, relative to the config's folder.
  EXPECT_EQ(resolve_checkpoint("/cfg", "w/reds4.pth"), "/cfg/w/reds4.pth");
  EXPECT_EQ(resolve_checkpoint("/cfg", ""), "");
}

TEST(CheckpointPresets, ConfigResolvesAPresetAndRefusesAOneXModelAsTheUpscaler) {
  testing::TempDir dir;
  ScopedEnv models("REELSCALE_MODELS", dir.path().c_str());
  const config::Config c = config::load_from_string("input: a.mkv\nmodel:\n  checkpoint: reds4\n", "c.yaml");
  EXPECT_EQ(c.model.checkpoint, (dir / "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth").string());
  EXPECT_EQ(c.model.effective_backend(), config::Backend::basicvsrpp);
  {
    const std::string e = config::error_of("input: a.mkv\nmodel:\n  checkpoint: ntire-decompress-2\n");
    ASSERT_NE(e, "") << "a 1x preset was accepted as the 4x model";
    EXPECT_THAT(e, HasSubstr("film.yaml:3:15: error: model.checkpoint: ntire-decompress-2 is a 1x model"));
    EXPECT_THAT(e, HasSubstr("needs a 4x one: reds4, vimeo-bi, vimeo-bd"));
  }
}

TEST(CheckpointPresets, ModelPreTakesOnlyTheOneTimesPresetsAndNeedsTheFourTimesModel) {
  testing::TempDir dir;
  ScopedEnv models("REELSCALE_MODELS", dir.path().c_str());
  const config::Config c =
      config::load_from_string("input: a.mkv\nmodel:\n  checkpoint: vimeo-bd\n  pre: ntire-decompress-2\n", "c.yaml");
  EXPECT_EQ(c.model.pre, (dir / "basicvsr_plusplus_c128n25_ntire_decompress_track2_20210314-eeae05e6.pth").string());
  {
    const std::string e = config::error_of("input: a.mkv\nmodel:\n  checkpoint: vimeo-bd\n  pre: reds4\n");
    ASSERT_NE(e, "") << "a 4x preset was accepted as model.pre";
    EXPECT_THAT(e, HasSubstr("film.yaml:4:8: error: model.pre: reds4 is a 4x model; model.pre needs a 1x one"));
    EXPECT_THAT(e, HasSubstr("ntire-decompress-1, ntire-decompress-2, ntire-decompress-3"));
  }
  {
    const std::string e = config::error_of("input: a.mkv\nmodel:\n  pre: ntire-decompress-1\n");
    ASSERT_NE(e, "") << "model.pre was accepted without a 4x model";
    EXPECT_THAT(e, HasSubstr("film.yaml:3:8: error: model.pre: needs the basicvsrpp backend"));
  }
  // model.pre changes the pixels, so the video config hash (modes_test pins the hash without it).
  const config::Config with = config::load_from_string("input: a.mkv\nmodel:\n  checkpoint: vimeo-bd\n", "c.yaml");
  config::Config other = with;
  other.model.pre = "x.pth";
  EXPECT_NE(config::video_config_hash(with), config::video_config_hash(other));
}

TEST(CheckpointVerify, MissingPresetFileNamesTheUrlAndTheDownloadLine) {
  testing::TempDir dir;
  const Preset& p = *find_preset("vimeo-bi");
  const fs::path dest = dir / p.file;
  const std::string why = file_problem(dest);
  EXPECT_THAT(why, HasSubstr(dest.string() + " does not exist"));
  EXPECT_THAT(why, HasSubstr("curl -L --create-dirs -o " + dest.string() + " " + preset_url(p)));
  EXPECT_THROW(verify_file(dest), Error);
  // A path with a space is quoted, so the line can be pasted into a shell.
  EXPECT_THAT(download_hint(p, "/my models/x.pth"), HasSubstr("curl -L --create-dirs -o '/my models/x.pth' https://"));
  // A file of one's own that is missing gets no download line.
  EXPECT_EQ(file_problem(dir / "mine.pth"), (dir / "mine.pth").string() + " does not exist");
  // A preset name with a typo is taken as a path; the message names the preset it resembles.
  EXPECT_EQ(file_problem(dir / "vimeo-db"),
            (dir / "vimeo-db").string() + " does not exist (did you mean the preset 'vimeo-bd'?)");
}

TEST(CheckpointVerify, NameCarryingItsOwnHashPrefixPassesAndAWrongOneIsNamed) {
  testing::TempDir dir;
  const fs::path good = write_named_by_hash(dir.path(), "net_20240101", "weights, as generated");
  EXPECT_EQ(file_problem(good), "");
  EXPECT_NO_THROW(verify_file(good));
  const std::string actual = file_sha256_hex(good).substr(0, 8);
  const fs::path wrong = dir / (std::string("net_20240101-") + (actual == "00000000" ? "11111111" : "00000000") + ".pth");
  fs::copy_file(good, wrong);
  const std::string why = file_problem(wrong);
  EXPECT_THAT(why, HasSubstr(wrong.string() + ": SHA-256 begins " + actual + ", its name says " +
                             name_hash_prefix(wrong)));
  // A name without the convention is not hashed.
  fs::copy_file(good, dir / "plain.pth");
  EXPECT_EQ(file_problem(dir / "plain.pth"), "");
}

TEST(CheckpointVerify, TruncatedOrEmptyDownloadIsRefused) {
  testing::TempDir dir;
  const fs::path named = write_named_by_hash(dir.path(), "net_20240101", std::string(4096, 'w'));
  fs::resize_file(named, 1000);  // an interrupted download
  EXPECT_THAT(file_problem(named), HasSubstr("damaged or incomplete (an interrupted download?)"));
  fs::resize_file(named, 0);
  EXPECT_EQ(file_problem(named), named.string() + " is empty (an interrupted download?)");
}

TEST(CheckpointVerify, PresetFileWithOtherContentNamesBothPrefixesAndHowToGetItAgain) {
  testing::TempDir dir;
  ScopedEnv models("REELSCALE_MODELS", dir.path().c_str());
  const Preset& p = *find_preset("reds4");
  write_file_atomic(preset_path(p), "not the released weights");
  const std::string why = file_problem(preset_path(p));
  EXPECT_THAT(why, HasSubstr("its name says db622b2f"));
  EXPECT_THAT(why, HasSubstr("SHA-256 begins " + file_sha256_hex(preset_path(p)).substr(0, 8)));
  EXPECT_THAT(why, HasSubstr("curl -L --create-dirs -o " + preset_path(p).string() + " " + preset_url(p)));
}

TEST(CheckpointVerify, ArchitectureMustBeThePresets) {
  const Preset& reds4 = *find_preset("reds4");
  EXPECT_EQ(arch_problem(reds4, 64, 7, true), "");
  EXPECT_EQ(arch_problem(reds4, 16, 2, true),
            "holds a BasicVSR++ c16n2 4x network, but the released 'reds4' checkpoint is c64n7 4x");
  EXPECT_THAT(arch_problem(*find_preset("ntire-decompress-1"), 64, 7, true), HasSubstr("is c128n25 1x"));
}

TEST(CheckpointVerify, DescribeMatchNamesTheReleaseByHashElseBySameArchitecture) {
  EXPECT_THAT(describe_match("4ef437e2aa", 64, 7, true), HasSubstr("vimeo-bi (its SHA-256 begins 4ef437e2"));
  EXPECT_EQ(describe_match("0123456789", 64, 7, true),
            "none: not a released file; the architecture of reds4, vimeo-bi, vimeo-bd (c64n7 4x)");
  EXPECT_EQ(describe_match("0123456789", 16, 2, true), "none: not a released file; its architecture (c16n2 4x) is no release's");
}

TEST(Checksum, Sha256OfAFileIsTheStandardDigest) {
  testing::TempDir dir;
  write_file_atomic(dir / "abc", "abc");  // FIPS 180-2's example
  EXPECT_EQ(file_sha256_hex(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace reelscale::model_zoo
