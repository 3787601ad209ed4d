#include "shared/disc/title_stream.hpp"

#include <dvdread/nav_read.h>
#include <dvdread/nav_types.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "shared/disc/pes_timestamps.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::disc {
namespace {

constexpr int kSector = DVD_VIDEO_LB_LEN;
constexpr int kDsiOffset = 0x407;  // the DSI packet's data inside a NAV pack
constexpr uint16_t kIlvu = 0x4000;

// True when the PES packet in this 2048-byte pack has its scrambling bits set (CSS): libdvdcss
// clears them as it decrypts, so a set bit means nothing decrypted it.
bool scrambled(const uint8_t* pack) {
  if (pack[0] || pack[1] || pack[2] != 1 || pack[3] != 0xba || (pack[4] & 0xc0) != 0x40) return false;
  const int pes = 14 + (pack[13] & 0x07);
  if (pes + 7 > kSector || pack[pes] || pack[pes + 1] || pack[pes + 2] != 1) return false;
  const uint8_t id = pack[pes + 3];
  if (id != 0xe0 && id != 0xbd && (id & 0xe0) != 0xc0) return false;
  return (pack[pes + 6] & 0x30) != 0;
}

}  // namespace

TitleStream::TitleStream(const Locator& where) : disc_(std::make_unique<Disc>(where.path)), sector_(kSector) {
  title_ = where.title > 0 ? &disc_->title(where.title) : &disc_->main_title(where.title_set);
  angle_ = where.angle;
  const std::vector<CellRun> cells = disc_->cells(*title_, angle_);
  vobs_ = disc_->open_title_vobs(title_->title_set);
  disc_->check_cells(*title_, cells, DVDFileSize(vobs_.get()));
  int64_t shift = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    shift = next_shift(cells[i], i ? &cells[i - 1] : nullptr, shift);
    add_runs(cells[i], cells[i].interleaved && cells[i].last_sector > cells[i].first_sector, shift);
  }
  check_not_scrambled();
}

TitleStream::~TitleStream() = default;

// An interleaved cell holds this angle's (or branch's) units between others': follow the chain
// the NAV packs give (DSI: this unit's end, the next unit's start) so only ours are read.
void TitleStream::add_runs(const CellRun& cell, bool interleaved, int64_t pts_shift) {
  auto push = [&](uint32_t first, int64_t count) {
    runs_.push_back({cell.cell, first, count, size_, pts_shift});
    size_ += count * kSector;
  };
  if (!interleaved) return push(cell.first_sector, int64_t(cell.last_sector) - cell.first_sector + 1);
  uint32_t at = cell.first_sector;
  while (at <= cell.last_sector) {
    if (DVDReadBlocks(vobs_.get(), int(at), 1, sector_.data()) != 1)
      throw MediaError("input " + disc_->path() + ": title " + std::to_string(title_->number) + ", cell " +
                       std::to_string(cell.cell) + ": cannot read the NAV pack at sector " + std::to_string(at));
    dsi_t dsi;
    navRead_DSI(&dsi, sector_.data() + kDsiOffset);
    const bool unit = dsi.sml_pbi.category & kIlvu;
    const uint32_t end = unit ? at + dsi.sml_pbi.ilvu_ea : cell.last_sector;
    if (!unit || end < at || end > cell.last_sector) return push(at, int64_t(cell.last_sector) - at + 1);
    push(at, int64_t(end) - at + 1);
    const uint32_t next = dsi.sml_pbi.ilvu_sa;
    if (next == 0 || next == 0x7fffffff || at + next <= end) return;
    at += next;
  }
}

bool TitleStream::read_nav_times(uint32_t sector, uint32_t& start, uint32_t& end) {
  return DVDReadBlocks(vobs_.get(), int(sector), 1, sector_.data()) == 1 && nav_pack_times(sector_.data(), start, end);
}

// Where the clock jumps between cells (a new VOB id), the cell starts exactly the previous
// cell's IFO duration (whole frames) after the previous cell's start; where it runs on, as is.
int64_t TitleStream::next_shift(const CellRun& cell, const CellRun* previous, int64_t previous_shift) {
  if (!previous) return 0;
  uint32_t prev_start = 0, unused = 0, prev_last = 0, prev_end = 0, start = 0;
  if (!read_nav_times(previous->first_sector, prev_start, unused) ||
      !read_nav_times(previous->last_vobu_sector, prev_last, prev_end) || !read_nav_times(cell.first_sector, start, unused))
    return previous_shift;  // no NAV packs to go by: leave the clock as it is
  constexpr int64_t kHalfFrame = 1800;
  if (std::abs(int64_t(prev_end) - int64_t(start)) < kHalfFrame) return previous_shift;
  return previous_shift + int64_t(prev_start) + previous->duration_ticks - int64_t(start);
}

void TitleStream::check_not_scrambled() {
  const Run& first = runs_.front();
  const int64_t n = std::min<int64_t>(first.sectors, 64);
  for (int64_t i = 0; i < n; ++i) {
    if (DVDReadBlocks(vobs_.get(), int(first.first_sector + i), 1, sector_.data()) != 1) break;
    if (scrambled(sector_.data()))
      throw UsageError("input " + disc_->path() + ": title " + std::to_string(title_->number) +
                       " is CSS-encrypted and libdvdread could not decrypt it: install libdvdcss (on Debian "
                       "and Ubuntu through the libdvd-pkg package: `apt install libdvd-pkg && dpkg-reconfigure "
                       "libdvd-pkg`), or rip the disc with the drive's own tools first");
  }
}

int TitleStream::read(int64_t pos, uint8_t* out, int n) {
  if (pos < 0 || pos >= size_ || n <= 0) return 0;
  auto it = std::upper_bound(runs_.begin(), runs_.end(), pos,
                             [](int64_t p, const Run& r) { return p < r.byte_start; });
  const Run& run = *std::prev(it);
  const int64_t in_run = pos - run.byte_start;
  const int64_t sector = in_run / kSector;
  const int offset = int(in_run % kSector);
  const uint32_t lb = uint32_t(run.first_sector + sector);
  auto fail = [&] {
    return MediaError("input " + disc_->path() + ": title " + std::to_string(title_->number) + ", cell " +
                      std::to_string(run.cell) + ": cannot read sector " + std::to_string(lb) +
                      " of the title set's VOBs (a damaged disc or a truncated VOB)");
  };
  const int64_t whole = std::min<int64_t>(n / kSector, run.sectors - sector);
  if (offset == 0 && whole > 0) {  // the common, aligned case: straight into libav's buffer
    if (DVDReadBlocks(vobs_.get(), int(lb), size_t(whole), out) != whole) throw fail();
    for (int64_t i = 0; i < whole; ++i) shift_pack_timestamps(out + i * kSector, run.pts_shift);
    return int(whole * kSector);
  }
  if (DVDReadBlocks(vobs_.get(), int(lb), 1, sector_.data()) != 1) throw fail();
  shift_pack_timestamps(sector_.data(), run.pts_shift);
  const int count = std::min(n, kSector - offset);
  std::memcpy(out, sector_.data() + offset, size_t(count));
  return count;
}

std::string TitleStream::describe() const {
  return disc_->path() + " title " + std::to_string(title_->number) + " (angle " + std::to_string(angle_) + ", " +
         std::to_string(runs_.size()) + " cell run" + (runs_.size() == 1 ? "" : "s") + ")";
}

}  // namespace reelscale::disc
