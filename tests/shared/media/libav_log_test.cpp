// libav's messages reach our log mapped to our levels (route_libav_logs).
#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include "shared/media/libav_log.hpp"
#include "tests/testing/captured_log.hpp"

extern "C" {
#include <libavutil/log.h>
}

namespace {

// Our log into a string for the test's duration, libav's routed to it; libav's callback and
// level put back after.
class CapturedLog : public reelscale::testing::CapturedLog {
 public:
  CapturedLog() : previous_av_level_(av_log_get_level()) {
    av_log_set_level(AV_LOG_INFO);
    reelscale::media::route_libav_logs();
  }
  ~CapturedLog() {
    av_log_set_callback(av_log_default_callback);
    av_log_set_level(previous_av_level_);
  }

 private:
  int previous_av_level_;
};

TEST(LibavLog, ErrorsBecomeWarningsAndChatterIsDropped) {
  CapturedLog log;
  av_log(nullptr, AV_LOG_INFO, "Repeated Fields: Neither: 30\n");
  av_log(nullptr, AV_LOG_WARNING, "deprecated pixel format used\n");
  av_log(nullptr, AV_LOG_ERROR, "ac-tex damaged at %d %d", 22, 17);  // one line, two calls
  av_log(nullptr, AV_LOG_ERROR, "\n");
  EXPECT_EQ(log.text(), "warning libav: ac-tex damaged at 22 17\n");
}

TEST(LibavLog, WarningsShowAtDebugAndTheLibavLevelStillFilters) {
  CapturedLog log;
  spdlog::set_level(spdlog::level::debug);
  av_log(nullptr, AV_LOG_WARNING, "deprecated pixel format used\n");
  av_log_set_level(AV_LOG_FATAL);  // quiet_libav_logs(): nothing below fatal
  av_log(nullptr, AV_LOG_ERROR, "hidden\n");
  EXPECT_EQ(log.text(), "debug libav: deprecated pixel format used\n");
}

}  // namespace
