#include "shared/disc/pes_timestamps.hpp"

#include <dvdread/dvd_reader.h>
#include <dvdread/nav_read.h>
#include <dvdread/nav_types.h>

namespace reelscale::disc {
namespace {

constexpr int kPack = DVD_VIDEO_LB_LEN;
constexpr int64_t kWrap = int64_t(1) << 33;
constexpr int kPciOffset = 0x2d;  // the PCI packet's data inside a NAV pack

bool start_code(const uint8_t* p, uint8_t id) { return p[0] == 0 && p[1] == 0 && p[2] == 1 && p[3] == id; }

void shift_timestamp(uint8_t* b, int64_t shift) {
  int64_t ts = int64_t((b[0] >> 1) & 7) << 30 | int64_t(b[1] << 7 | b[2] >> 1) << 15 | int64_t(b[3] << 7 | b[4] >> 1);
  ts = ((ts + shift) % kWrap + kWrap) % kWrap;
  b[0] = uint8_t((b[0] & 0xf0) | ((ts >> 29) & 0x0e) | 1);
  b[1] = uint8_t(ts >> 22);
  b[2] = uint8_t(((ts >> 14) & 0xfe) | 1);
  b[3] = uint8_t(ts >> 7);
  b[4] = uint8_t(((ts << 1) & 0xfe) | 1);
}

}  // namespace

void shift_pack_timestamps(uint8_t* pack, int64_t shift) {
  if (shift == 0 || !start_code(pack, 0xba) || (pack[4] & 0xc0) != 0x40) return;  // MPEG-2 packs only
  int p = 14 + (pack[13] & 0x07);
  while (p + 9 <= kPack && pack[p] == 0 && pack[p + 1] == 0 && pack[p + 2] == 1) {
    const uint8_t id = pack[p + 3];
    const int length = pack[p + 4] << 8 | pack[p + 5];
    const bool has_header = id == 0xbd || (id >= 0xc0 && id <= 0xef);
    if (has_header && (pack[p + 6] & 0xc0) == 0x80) {
      const int flags = pack[p + 7] >> 6;
      if ((flags & 2) && p + 14 <= kPack) shift_timestamp(pack + p + 9, shift);
      if (flags == 3 && p + 19 <= kPack) shift_timestamp(pack + p + 14, shift);
    }
    p += 6 + length;
  }
}

bool nav_pack_times(const uint8_t* pack, uint32_t& start, uint32_t& end) {
  if (!start_code(pack, 0xba) || !start_code(pack + 14, 0xbb) || !start_code(pack + 0x26, 0xbf)) return false;
  pci_t pci;
  navRead_PCI(&pci, const_cast<uint8_t*>(pack) + kPciOffset);
  start = pci.pci_gi.vobu_s_ptm;
  end = pci.pci_gi.vobu_e_ptm;
  return true;
}

}  // namespace reelscale::disc
