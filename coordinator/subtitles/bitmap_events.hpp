#pragma once
// Bitmap subtitle events (DVD subtitles in VOB/MPEG-PS/MKV, VobSub .idx/.sub, PGS in MKV/SUP)
// decoded with libavcodec: each event's palette-indexed bitmap, its RGBA palette, and its
// display interval on the source timeline.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace reelscale::subtitles {

struct BitmapRect {
  int x = 0, y = 0, w = 0, h = 0;
  std::vector<uint8_t> indices;        // w*h palette indices, row-major
  std::array<uint32_t, 256> palette{};  // 0xAARRGGBB, as libavcodec gives it
};

struct BitmapEvent {
  int64_t start_ms = 0, end_ms = 0;
  bool forced = false;
  std::vector<BitmapRect> rects;
};

struct ExtractResult {
  int stream_index = -1;
  std::string codec, language;
  std::vector<BitmapEvent> events;
  std::vector<std::string> warnings;  // skipped packets, each naming its time
};

// Decodes subtitle stream `stream_index` (absolute; -1 = the first bitmap subtitle stream).
// A missing end time comes from the next event's start or the stream's duration. Undecodable
// packets and empty bitmaps are skipped with a warning naming the time. MediaError when the
// file cannot be read or has no such bitmap subtitle stream.
ExtractResult extract_bitmap_events(const std::filesystem::path& file, int stream_index = -1);

}  // namespace reelscale::subtitles
