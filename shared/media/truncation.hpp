#pragma once
// A film cut short (issue 23, defect 11).
#include <string>

#include "shared/media/frame_index.hpp"

namespace reelscale::media {

// "" when a Matroska file's video reaches the end its header declares (the track's DURATION
// tag, else the segment's duration), else where the video stops, as "truncated or damaged: ...".
// A file cut short (a copy interrupted, a full disk) keeps its header, so its frames stop
// seconds before the declared end; the B-frames missing at the cut read as a variable frame
// rate otherwise. Within one second (or two frames) is complete. Other containers pass: their
// durations are estimated from what is there (MPEG-PS, NUT) or depend on edit lists (MP4).
std::string truncation(const AVFormatContext* fmt, const FrameIndex& index);

}  // namespace reelscale::media
