#pragma once
// A film cut short (issue 23, defect 11).
#include <string>

#include "shared/media/frame_index.hpp"

namespace reelscale::media {

// "" when the indexed video reaches the duration its container declares for it (the stream's
// own: MP4's track duration, Matroska's DURATION tag; else the file's), else where the video
// ends, as "truncated or damaged: ...". A file cut short (a copy interrupted, a full disk) keeps
// its header, so its frames stop seconds before the declared end; missing reordered frames at
// the cut would otherwise read as a variable frame rate. Within one second (or two frames) is
// complete. Containers that declare nothing, or estimate it from the bytes (MPEG-PS), pass.
std::string truncation(const AVFormatContext* fmt, const FrameIndex& index);

}  // namespace reelscale::media
