// libav's own log lines (damaged packets in the truncation tests, encoder banners) would bury
// the test report; the tests assert on our exceptions and results instead.
#include "shared/media/av_raii.hpp"

namespace {
const bool quiet = (reelscale::av::quiet_libav_logs(AV_LOG_FATAL), true);
}  // namespace
