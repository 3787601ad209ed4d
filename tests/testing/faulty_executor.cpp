#include <fstream>
#include <sstream>

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "tests/testing/fake_executors.hpp"

namespace reelscale::worker {
namespace fs = std::filesystem;

FaultyExecutor::FaultyExecutor(std::unique_ptr<ShardExecutor> inner, const std::string& spec)
    : inner_(std::move(inner)) {
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string k = item.substr(0, eq);
    int v = 0;
    try {
      v = eq == std::string::npos ? 1 : std::stoi(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw UsageError("--fault: '" + item + "': value is not a number");
    }
    if (k == "corrupt") corrupt_ = v;
    else if (k == "short") short_ = v;
    else throw UsageError("--fault: unknown fault '" + k + "' (corrupt=N, short=N)");
  }
}

ExecResult FaultyExecutor::execute(const protocol::Assign& a, const fs::path& output,
                                   const std::function<void(int64_t)>& progress) {
  ExecResult r = inner_->execute(a, output, progress);
  const auto size = fs::file_size(output);
  if (corrupt_ > 0) {
    --corrupt_;
    spdlog::warn("TEST FAULT: corrupting shard {} ({})", a.range.id, output.string());
    std::fstream f(output, std::ios::in | std::ios::out | std::ios::binary);
    for (uintmax_t at = size / 2; at < size / 2 + 64 && at < size; ++at) {
      f.seekg(std::streamoff(at));
      const int c = f.get();
      f.seekp(std::streamoff(at));
      f.put(char(c ^ 0x5a));
    }
  } else if (short_ > 0) {
    --short_;
    spdlog::warn("TEST FAULT: truncating shard {} ({})", a.range.id, output.string());
    fs::resize_file(output, size / 2);
  }
  return r;
}

}  // namespace reelscale::worker
