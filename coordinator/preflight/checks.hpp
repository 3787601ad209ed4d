#pragma once
// The preflight's checks, one per concern; each appends what it finds (preflight.hpp).
#include <vector>

#include "coordinator/preflight/preflight.hpp"
#include "shared/media/probe.hpp"

namespace reelscale::preflight {

using Problems = std::vector<Problem>;

// output vs input vs work_dir (storage.dir, ledger) on the paths alone.
void check_paths(const config::Config& cfg, Problems& out);
void check_checkpoint(const config::Config& cfg, const CheckpointCheck& check, Problems& out);
void check_excerpt(const std::string& excerpt, const media::ProbeResult& input, Problems& out);
void check_retime(const config::Config& cfg, const media::ProbeResult& input, Problems& out);
// audio.select and subtitles.select against the input's streams; sample rates.
void check_stream_selection(const config::Config& cfg, const media::ProbeResult& input, Problems& out);
// mux.container against every stream the mux will be given.
void check_container(const config::Config& cfg, const media::ProbeResult& input, Problems& out);
void check_ocr_languages(const config::Config& cfg, const media::ProbeResult& input, Problems& out);
void check_disk_space(const config::Config& cfg, const media::ProbeResult& input, Problems& out);
void check_delivery(const config::Config& cfg, Problems& out);

// The streams the job will read (the same selection rules as the retime and OCR stages).
std::vector<const media::AudioStreamInfo*> selected_audio(const config::Config& cfg, const media::ProbeResult& input);
std::vector<const media::SubtitleStreamInfo*> selected_subtitles(const config::Config& cfg,
                                                                 const media::ProbeResult& input);

}  // namespace reelscale::preflight
