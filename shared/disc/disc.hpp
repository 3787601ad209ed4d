#pragma once
// A DVD-Video disc read with libdvdread: its title list (from the IFO files) and the cells a
// title plays, in play order, as sector runs of its title set's VOBs.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/disc/dvdread_raii.hpp"

namespace reelscale::disc {

struct AudioTrack {
  int stream_id = 0;     // the MPEG-PS id libavformat gives the stream (0x80+n AC-3, 0x1c0+n MPEG...)
  std::string codec;     // ac3, mpeg, lpcm, dts
  std::string language;  // ISO 639-1 as on the disc ("en"), "" when unset
  int channels = 0;
};

struct SubtitleTrack {
  int stream_id = 0;     // 0x20+n
  std::string language;  // ISO 639-1, "" when unset
  bool forced = false;   // the IFO marks the stream as forced captions
};

struct Chapter {
  int64_t start_ms = 0;  // from the title's start
};

// One run of consecutive sectors of the title set's VOBs (a cell, or the chosen angle's cell).
struct CellRun {
  int cell = 0;  // 1-based cell number in its PGC (for messages)
  uint32_t first_sector = 0;
  uint32_t last_sector = 0;  // inclusive
  uint32_t last_vobu_sector = 0;  // the NAV pack of its last VOBU
  int64_t duration_ms = 0;
  int64_t duration_ticks = 0;  // 90 kHz, whole frames
  bool interleaved = false;  // its sectors interleave with other angles' or branches' units
};

struct Title {
  int number = 0;  // 1-based, as players number them
  int title_set = 0;
  int angles = 1;
  int64_t duration_ms = 0;
  double frame_rate = 25;   // 25 or 29.97 (from the cells' time codes)
  std::string aspect;       // "4:3" or "16:9"
  int width = 720, height = 576;
  std::vector<Chapter> chapters;
  std::vector<AudioTrack> audio;
  std::vector<SubtitleTrack> subtitles;
  std::vector<uint32_t> palette;  // 16 VobSub colours as 0xRRGGBB
};

// An open disc: the reader and its video manager IFO, owned together.
class Disc {
 public:
  // Opens a folder (VIDEO_TS or its parent), an image or a device. UsageError naming the path
  // when it is no readable DVD-Video disc (empty VIDEO_TS, menu-only, unreadable IFO).
  explicit Disc(const std::string& path);
  Disc(Disc&&) noexcept = default;
  ~Disc();

  const std::string& path() const { return path_; }
  const std::vector<Title>& titles() const { return titles_; }
  // The title players call `number`; UsageError listing the titles when there is none.
  const Title& title(int number) const;
  // The longest title (the film), of one title set when title_set > 0.
  const Title& main_title(int title_set = 0) const;
  // The cells of a title in play order, with angle `angle` chosen in angle blocks.
  std::vector<CellRun> cells(const Title& t, int angle) const;
  // The title set's VOBs (VTS_nn_1..9.VOB as one file), for reading sectors.
  FilePtr open_title_vobs(int title_set) const;
  // Throws UsageError naming the title, cell and file when a cell lies past the VOBs' end
  // (an IFO written for a longer VOB, or a truncated VOB).
  void check_cells(const Title& t, const std::vector<CellRun>& cells, int64_t vob_sectors) const;

 private:
  std::string path_;
  ReaderPtr reader_;
  IfoPtr vmg_;
  std::vector<IfoPtr> vts_;  // index = title set number (0 unused)
  std::vector<Title> titles_;
};

// A human-readable title list (for `reelscale probe`).
std::string describe_titles(const Disc& disc);

}  // namespace reelscale::disc
