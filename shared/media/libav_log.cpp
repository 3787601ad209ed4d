#include "shared/media/libav_log.hpp"

extern "C" {
#include <libavutil/log.h>
}

#include <cstdarg>
#include <string>

#include "shared/util/log.hpp"

namespace reelscale::media {
namespace {

void on_libav_log(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_WARNING || level > av_log_get_level()) return;
  const auto to = level <= AV_LOG_ERROR ? spdlog::level::warn : spdlog::level::debug;
  if (!spdlog::should_log(to)) return;
  // libav may write one line in several calls; the prefix state and the pending text are per
  // thread, since decoders and filters log from their own threads.
  thread_local int print_prefix = 1;
  thread_local std::string pending;
  char part[1024];
  av_log_format_line2(avcl, level, fmt, vl, part, sizeof part, &print_prefix);
  pending += part;
  if (pending.empty() || pending.back() != '\n') return;
  while (!pending.empty() && (pending.back() == '\n' || pending.back() == '\r')) pending.pop_back();
  if (!pending.empty()) spdlog::log(to, "libav: {}", pending);
  pending.clear();
}

}  // namespace

void route_libav_logs() { av_log_set_callback(on_libav_log); }

}  // namespace reelscale::media
