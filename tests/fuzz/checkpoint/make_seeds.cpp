// Writes seed corpora for the checkpoint fuzzers: make_checkpoint_seeds OUTDIR
// -> OUTDIR/{pickle,state_dict,container}/seed-N
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "worker/model/safetensors_reader.hpp"

namespace fs = std::filesystem;
using namespace reelscale::testing;

namespace {
void write(const fs::path& dir, int n, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / ("seed-" + std::to_string(n)), std::ios::binary) << bytes;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_checkpoint_seeds OUTDIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  // Tensors over the fuzz_state_dict harness's fixed storages: "0" 24 floats, "1" 3 halves,
  // "2" 1 float.
  const std::vector<std::vector<TensorSpec>> sets = {
      {{"generator.a.weight", "FloatStorage", "0", 24, 0, {2, 3, 2, 2}, {12, 4, 2, 1}},
       {"generator.a.bias", "HalfStorage", "1", 3, 0, {3}, {1}, true},
       {"generator.b", "FloatStorage", "0", 24, 4, {4, 2}, {1, 4}},
       {"generator.c", "FloatStorage", "2", 1, 0, {}, {}}},
      {{"feat_extract.main.0.weight", "FloatStorage", "0", 24, 0, {2, 3, 2, 2}, {12, 4, 2, 1}},
       {"conv_last.weight", "FloatStorage", "0", 24, 0, {3, 2, 2, 2}, {8, 4, 2, 1}}},
  };
  int n = 0;
  for (const auto& s : sets)
    for (Wrap w : {Wrap::StateDictWithMeta, Wrap::Params, Wrap::TopLevel}) {
      const std::string pkl = make_state_dict_pickle(s, w);
      write(out / "pickle", n, pkl);
      write(out / "state_dict", n, pkl);
      const std::map<std::string, std::string> storages = {
          {"0", std::string(96, '\x01')}, {"1", std::string(6, '\x02')}, {"2", std::string(4, '\x03')}};
      write(out / "container", n, make_pth(pkl, storages, "archive", n % 2 == 1));
      ++n;
    }
  const std::string f(16, '\x04');
  write(out / "container", n++,
        reelscale::model::serialize_safetensors({{"generator.x", reelscale::model::DType::F32, {2, 2}, f},
                                                 {"generator.y", reelscale::model::DType::BF16, {4}, std::string_view(f).substr(0, 8)}},
                                                {{"format", "pt"}}));
  std::cout << "wrote " << n << " seeds under " << out << "\n";
  return 0;
}
