#pragma once
// libav*'s own messages through our log, so a user reads one stream at one verbosity.
//
// Why: libav prints to stderr at INFO by default, and filters such as idet report their
// statistics at INFO for every graph (each shard and scene pass): dozens of "[Parsed_idet_0 @
// 0x...]" lines in a plain `reelscale run`. Mapped: libav errors -> warn (damaged input stays
// visible), libav warnings -> debug, anything chattier is dropped. av_log_set_level() still
// applies (quiet_libav_logs()).
namespace reelscale::media {

// Installs the callback (process-wide; safe to call more than once).
void route_libav_logs();

}  // namespace reelscale::media
