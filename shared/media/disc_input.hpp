#pragma once
// A DVD title opened as an AVFormatContext: libavformat's MPEG-PS demuxer reads the title's
// cells through a custom AVIOContext, and the IFO's metadata (languages, forced flags, the
// VobSub palette, chapters) is put on the context the way a file's own tags would be, so every
// consumer reads it without knowing it came from a disc.
#include <string>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

// Opens "dvd:..." locators (disc::Locator). UsageError for a disc that cannot be used.
av::InputFormatPtr open_disc_input(const std::string& locator);

// The film's identity for resume and caches: file_fingerprint() of a file; for a disc title its
// locator, size and sampled bytes of the title's own stream (not of unrelated VOBs).
std::string input_fingerprint(const std::string& input);

// Refuses an input that cannot be read, before anything is written: MediaError for a missing
// file, UsageError (exit 2) for a disc, title or cell that cannot be used.
void require_input(const std::string& input);

}  // namespace reelscale::media
