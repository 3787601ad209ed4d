#pragma once
// Presentation timestamps across a title's cells. Each authored VOB of a disc starts its clock
// anew, so a title of several VOB ids jumps back in time at cell boundaries; players follow the
// IFO, libavformat would not. The disc stream therefore shifts every pack's PTS/DTS by the
// cell's offset, making the title one continuous clock (cell k starts where cell k-1 ended).
#include <cstdint>

namespace reelscale::disc {

// Adds `shift` (90 kHz ticks, modulo 2^33) to the PTS and DTS of every PES packet in one
// 2048-byte MPEG-2 program stream pack; other packs are left as they are.
void shift_pack_timestamps(uint8_t* pack, int64_t shift);

// The start and end presentation times (90 kHz) a NAV pack's PCI states for its VOBU;
// false when `pack` is no NAV pack.
bool nav_pack_times(const uint8_t* pack, uint32_t& start, uint32_t& end);

}  // namespace reelscale::disc
