#pragma once
// The live status page the coordinator serves at / while a run goes: a fixed HTML document
// whose script polls /status.json every second and shows its "live" part - the figures the
// terminal shows (frames, frames/s, ETA, stage), every worker's state and the shard map.
#include <string>

namespace reelscale::report {

const std::string& live_page_html();

}  // namespace reelscale::report
