#pragma once
// Repeated warnings are said the first 20 times, then at the 32nd, 64th, 128th... time, each
// with its count: an unregistered client's flood gave 499 "queue full" lines (issue 23).
#include <cstdint>

namespace reelscale::dispatch {

inline bool worth_logging(int64_t nth) { return nth > 0 && (nth <= 20 || (nth & (nth - 1)) == 0); }

}  // namespace reelscale::dispatch
