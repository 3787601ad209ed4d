#pragma once
// Where a film comes from, as one string every process understands. A plain path is a file
// libavformat opens; "dvd:<absolute path>[#title=N][&angle=M][&vts=K]" is a title of a DVD-Video disc
// (VIDEO_TS folder or its parent, .iso/.img image, block device). The coordinator resolves
// `input` + `input.title` into this once (config load), so workers open the same title.
#include <cstdint>
#include <optional>
#include <string>

namespace reelscale::disc {

struct Locator {
  std::string path;  // the disc: a folder, an image or a device
  int title = 0;     // 1-based; 0 = the main (longest) title
  int angle = 1;     // 1-based
  int title_set = 0; // with title 0: the main title of this title set only (a VTS_nn_1.VOB given)
};

// True for "dvd:..." strings.
bool is_disc_locator(const std::string& text);

// Parses a "dvd:" locator; UsageError naming the text when malformed.
Locator parse_locator(const std::string& text);
std::string format_locator(const Locator& l);

// The disc a path names, when it names one: a VIDEO_TS folder, a folder holding VIDEO_TS, an
// .iso/.img image, a block device, or a VOB/IFO file beside VIDEO_TS.IFO (its folder then,
// with title_set = the file's title set, so VTS_01_1.VOB restores title set 1's main title,
// never just the VOB's first gigabyte). std::nullopt for anything else (an ordinary media file).
std::optional<Locator> disc_locator(const std::string& path);

// The file system object behind a locator or path (the disc's path, or the path itself), for
// existence checks and messages.
std::string locator_file(const std::string& text);

// Size and newest modification time of the files a locator reads (the image, or every file of
// the VIDEO_TS folder): what caches keyed on the film compare. size -1 when unreadable.
struct FilesStamp {
  int64_t size = -1;
  int64_t mtime = 0;
};
FilesStamp files_stamp(const std::string& text);

}  // namespace reelscale::disc
