#pragma once
// Subtitle bitmaps the subtitle tests and the OCR benchmark generate: DVD-style 4-colour
// subpictures with the text, outline, anti-alias ring, box and second colour in any palette
// slot, PGS-style anti-aliased bitmaps with shuffled palettes, and the files that carry them
// (an MKV of dvd_subtitle, a PGS .sup). Throws std::runtime_error when libav* refuses.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/subtitles/bitmap_events.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace reelscale::subtitles {

// One synthetic DVD subtitle: text drawn with a fill colour and an optional outline, in the
// palette slots a disc may use (text, outline and anti-alias ring in any of codes 1-3; a box
// behind the text; a second text colour for the words before ':').
struct Drawn {
  std::string text;  // '\n' separates lines
  int64_t start_ms, end_ms;
  double scale = 1.0;
  uint32_t fill = 0xFFFFFFFF;     // ARGB
  uint32_t outline = 0xFF000000;  // ARGB; 0 = no outline
  int text_code = 1, outline_code = 2, ring_code = -1, box_code = -1, second_code = -1;
  uint32_t ring = 0xFF808080, box = 0xFF303030, second = 0xFFFFFF00;  // ARGB of those slots
  bool italic = false;
};

// The 4-colour palette bitmap of one event, as a DVD subpicture holds it.
BitmapRect draw_rect(const Drawn& e);


// Six subtitle lines of ordinary English.
extern const char* const kLines[6];

// A PGS-style bitmap: anti-aliased text and outline blended into up to 256 ARGB colours, the
// palette entries in an order `seed` shuffles (PGS palettes follow no convention).
BitmapRect draw_pgs(const std::string& text, uint32_t seed);

// One subtitle's bitmap and times (forced: shown with subtitles off).
struct TimedBitmap {
  BitmapRect rect;
  int64_t start_ms, end_ms;
  bool forced = false;
};

// Writes an MKV holding one dvd_subtitle stream (720x576 canvas, tagged `language`) with the
// given events (libavcodec's encoder picks the palette slots); Drawn events are tagged "eng".
void write_dvdsub(const std::filesystem::path& out, const std::vector<TimedBitmap>& events,
                  const std::string& language);
void write_dvdsub(const std::filesystem::path& out, const std::vector<Drawn>& events);

struct RawPacket {
  std::vector<uint8_t> data;
  int64_t pts = 0, duration = 0;  // in `tb`
};

// A file of one subtitle stream holding the given packets as they are (no encoder).
void write_subtitle_packets(const std::filesystem::path& out, const char* format, AVCodecID codec, AVRational tb,
                            const std::vector<RawPacket>& packets);

// A PGS .sup: one display set per event and a clearing set at its end.
void write_sup(const std::filesystem::path& out, const std::vector<TimedBitmap>& events);

}  // namespace reelscale::subtitles
