#pragma once
// DVD IFOs name languages in ISO 639-1 ("en"); libav* tags, Matroska and `audio.select` use
// ISO 639-2 ("eng").
#include <string>

namespace reelscale::disc {

// The ISO 639-2/B code of an ISO 639-1 code; the code itself when it is not in the table.
std::string iso639_2(const std::string& two_letter);

}  // namespace reelscale::disc
