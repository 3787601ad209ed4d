#pragma once
// One title of a disc as a continuous, seekable MPEG-PS byte stream: its cells' sectors in play
// order (the chosen angle; interleaved units of other angles and branches left out), read from
// the title set's VOBs across VTS_nn_1..9 file boundaries. Never the VOB files end to end: a
// title can skip cells and VTS_nn_0.VOB is the menu.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/disc/disc.hpp"
#include "shared/disc/locator.hpp"

namespace reelscale::disc {

class TitleStream {
 public:
  // Opens the locator's disc and title (UsageError for a missing title, a cell past the VOBs'
  // end, an encrypted disc...).
  explicit TitleStream(const Locator& where);
  ~TitleStream();
  TitleStream(const TitleStream&) = delete;
  TitleStream& operator=(const TitleStream&) = delete;

  const Title& title() const { return *title_; }
  const Disc& disc() const { return *disc_; }
  int64_t size() const { return size_; }  // bytes
  // Copies up to n bytes at byte offset pos; returns the count (0 at the end). MediaError naming
  // the title, cell and sector when the disc cannot be read there.
  int read(int64_t pos, uint8_t* out, int n);
  // A short description for logs: "<disc> title 2 (angle 1, 5 cells)".
  std::string describe() const;

 private:
  struct Run {
    int cell;
    uint32_t first_sector;
    int64_t sectors;
    int64_t byte_start;  // offset of the run's first byte in the stream
    int64_t pts_shift;   // 90 kHz ticks added to its packs' timestamps (pes_timestamps.hpp)
  };
  void add_runs(const CellRun& cell, bool interleaved, int64_t pts_shift);
  // The shift that starts `cell` where the previous cell ended (0 for the first).
  int64_t next_shift(const CellRun& cell, const CellRun* previous, int64_t previous_shift);
  bool read_nav_times(uint32_t sector, uint32_t& start, uint32_t& end);
  void check_not_scrambled();

  std::unique_ptr<Disc> disc_;
  const Title* title_ = nullptr;
  int angle_ = 1;
  FilePtr vobs_;
  std::vector<Run> runs_;
  int64_t size_ = 0;
  std::vector<uint8_t> sector_;  // one sector for unaligned reads
};

}  // namespace reelscale::disc
