// audio.select and subtitles.select against the streams the input has.
#include <algorithm>

#include "coordinator/preflight/checks.hpp"
#include "shared/media/iso639.hpp"

namespace reelscale::preflight {
namespace {

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <class Stream>
bool matches(const Stream& s, const std::string& selector) {
  if (selector == "all") return true;
  if (is_index(selector)) return std::stoi(selector) == s.index;
  return !s.language.empty() && s.language == selector;
}

template <class Stream>
std::vector<const Stream*> pick(const std::vector<Stream>& streams, const std::vector<std::string>& select) {
  std::vector<const Stream*> out;
  for (const Stream& s : streams)
    if (std::any_of(select.begin(), select.end(), [&](const std::string& sel) { return matches(s, sel); }))
      out.push_back(&s);
  return out;
}

// Why `selector` picks none of `streams` ("" when it picks one), with what would.
template <class Stream>
std::string unmatched(const std::string& selector, const std::vector<Stream>& streams, const std::string& kind,
                      const std::string& input) {
  if (selector == "all" || std::any_of(streams.begin(), streams.end(), [&](const Stream& s) { return matches(s, selector); }))
    return "";
  std::string indices, tags, hint;
  for (const Stream& s : streams) {
    indices += (indices.empty() ? "" : ", ") + std::to_string(s.index);
    if (s.language.empty()) continue;
    tags += (tags.empty() ? "" : ", ") + s.language + " (#" + std::to_string(s.index) + ")";
    const auto a = media::iso639_terminology(selector), b = media::iso639_terminology(s.language);
    if (a && b && *a == *b) hint = "; write '" + s.language + "' as the file tags it";
  }
  if (streams.empty()) return "'" + selector + "' selects nothing: " + input + " has no " + kind + " stream";
  if (is_index(selector))
    return "'" + selector + "' is not one of the " + kind + " streams of " + input + " (" +
           (indices.empty() ? "none" : indices) + ")";
  if (tags.empty())
    return "'" + selector + "' matches no " + kind + " stream: " + input + " tags no language on its " + kind +
           " streams; select them by stream index (" + indices + ") or 'all'";
  return "'" + selector + "' matches no " + kind + " stream of " + input + " (tagged: " + tags + ")" + hint;
}

}  // namespace

std::vector<const media::AudioStreamInfo*> selected_audio(const config::Config& cfg, const media::ProbeResult& input) {
  return pick(input.audio, cfg.audio.select);
}

std::vector<const media::SubtitleStreamInfo*> selected_subtitles(const config::Config& cfg,
                                                                 const media::ProbeResult& input) {
  return pick(input.subtitles, cfg.subtitles.select);
}

void check_stream_selection(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  for (const std::string& sel : cfg.audio.select) {
    const std::string why = unmatched(sel, input.audio, "audio", input.path);
    if (!why.empty()) out.push_back({"audio.select", why});
  }
  // An empty subtitle selection is allowed ("all" on a film without subtitles): only a named
  // one must exist.
  for (const std::string& sel : cfg.subtitles.select) {
    const std::string why = sel == "all" ? "" : unmatched(sel, input.subtitles, "subtitle", input.path);
    if (!why.empty()) out.push_back({"subtitles.select", why});
  }
  for (const media::AudioStreamInfo* a : selected_audio(cfg, input)) {
    if (a->sample_rate <= 0 || a->channels <= 0)
      out.push_back({"audio.select", input.path + ": audio stream #" + std::to_string(a->index) + " (" + a->codec +
                                         ") states no " + (a->sample_rate <= 0 ? "sample rate" : "channel count") +
                                         ": it cannot be retimed; select the other audio streams by index"});
  }
}

}  // namespace reelscale::preflight
