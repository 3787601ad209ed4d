#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "tests/testing/fake_executors.hpp"

#include "shared/util/errors.hpp"
#include "tests/testing/fake_shard.hpp"

namespace reelscale::worker {

FakeExecutor::FakeExecutor(const std::string& spec) {
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) throw UsageError("fake executor spec: '" + item + "' is not KEY=VALUE");
    std::string k = item.substr(0, eq);
    long v = 0;
    try {
      v = std::stol(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw UsageError("fake executor spec: '" + item + "': value is not a number");
    }
    if (k == "frame_us") frame_us_ = v;
    else if (k == "corrupt") corrupt_ = int(v);
    else if (k == "fail") fail_ = int(v);
    else if (k == "enospc") enospc_ = int(v);
    else if (k == "cpu_only") cpu_only_ = v != 0;
    else throw UsageError("fake executor spec: unknown key '" + k + "'");
  }
}

void FakeExecutor::describe(protocol::Ready& r) {
  r.gpu_name = cpu_only_ ? "" : "fake";
  r.codecs = {"fake"};
}

ExecResult FakeExecutor::execute(const protocol::Assign& a, const std::filesystem::path& output,
                                 const std::function<void(int64_t)>& progress) {
  auto t0 = std::chrono::steady_clock::now();
  int64_t frames = a.range.emit_frames();
  if (a.storage == config::StorageMode::stream && !std::filesystem::exists(a.source))
    throw Error("fake executor: the fetched segment " + a.source + " is missing");
  // The simulated GPU work: a fixed time per frame, reported in steps as the real one does.
  for (int64_t f = 0; f < frames; ++f) {
    if (frame_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(frame_us_));
    progress(f + 1);
  }
  if (fail_ > 0) {
    --fail_;
    throw Error("fake executor: injected failure");
  }
  if (enospc_ > 0) {
    // As the muxer reports a full disk: a MediaError, which the worker calls not retryable.
    --enospc_;
    throw MediaError("fake executor: writing " + output.string() + ": " + std::strerror(ENOSPC));
  }
  bool corrupt = corrupt_ > 0;
  if (corrupt) --corrupt_;
  auto f = protocol::fake::write(output, a.range.id, a.range.emit_begin, a.range.emit_end, a.config_hash,
                                 corrupt ? frames / 2 : -1);
  ExecResult r;
  r.frame_count = f.frame_count;
  r.checksum = f.checksum;
  r.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.upscale_s = r.total_s;
  return r;
}

}  // namespace reelscale::worker
