#pragma once
// `reelscale run --excerpt START+DURATION`: a short piece of the film restored end
// to end, to judge the result before paying for the whole film. The piece is cut once by
// stream copy (every stream, no re-encode) from the keyframe at or before START to the first
// keyframe at or after START+DURATION, and the job runs on that file as on any film: every
// stage works unchanged, and its work directory, shards and output are its own, so the film's
// run is not touched (nor reused: the excerpt's frames are numbered from its own start).
#include <filesystem>
#include <string>

#include "shared/config/config.hpp"

namespace reelscale::excerpt {

struct Span {
  double start_s = 0, duration_s = 0;
  std::string label;  // "90+20": names the files
};

// "1:30+20", "90+20", "0:01:30.5+0:20". Throws UsageError naming --excerpt.
Span parse_span(const std::string& text);

// The excerpt's job: input = the cut piece, output = "<output stem>.excerpt-<label><ext>",
// work_dir = "<work_dir>/excerpt-<label>", storage.dir = "<storage.dir>/excerpt-<label>", its own
// ledger; everything else as the film's (keys_dir too: remote workers keep their keys).
config::Config excerpt_config(const config::Config& film, const Span& span);

// Copies [the keyframe at or before span.start_s, the first video keyframe at or after
// start + duration) of every audio, video and subtitle stream of `input` into `out` (Matroska),
// timestamps starting at 0; atomic (a temp name, then rename), reused when `out` exists.
// Throws MediaError naming the input when the span lies beyond its end.
void cut(const std::string& input, const std::filesystem::path& out, const Span& span);

// The excerpt's job, its piece cut first (once).
config::Config job_config(const config::Config& film, const std::string& excerpt);

}  // namespace reelscale::excerpt
