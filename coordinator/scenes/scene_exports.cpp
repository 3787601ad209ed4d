#include "coordinator/scenes/scene_exports.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "shared/util/text.hpp"

namespace reelscale::scenes {
namespace {

// Python's float a // b for the positive values timecodes have (fmod based, as CPython).
double floordiv(double a, double b) {
  const double mod = std::fmod(a, b);
  const double div = (a - mod) / b;
  double f = std::floor(div);
  if (div - f > 0.5) f += 1.0;
  return f;
}

// HH:MM:SS:FF as PySceneDetect derives it from the frame's seconds (not from the frame count:
// at 29.97 fps its frames field runs 00..29 and skips where the seconds say so).
std::string edl_timecode(int64_t frame, int64_t num, int64_t den) {
  const double total = frame_seconds(frame, num, den);
  const double rate = double(num) / double(den);
  const int hours = int(floordiv(total, 3600.0));
  const int minutes = int(floordiv(std::fmod(total, 3600.0), 60.0));
  const int seconds = int(std::fmod(total, 60.0));
  const int frames = int(std::fmod(total * rate, rate));
  char b[40];
  std::snprintf(b, sizeof b, "%02d:%02d:%02d:%02d", hours, minutes, seconds, frames);
  return b;
}

// Python's round(x, 6): the nearest 6-decimal value of the exact binary x (glibc's printf
// rounds the exact value, halves to even, as CPython's correctly rounded repr does).
double round6(double x) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6f", x);
  return std::strtod(b, nullptr);
}

nlohmann::json rational_time(double rate, double value) {
  return {{"OTIO_SCHEMA", "RationalTime.1"}, {"rate", rate}, {"value", value}};
}

nlohmann::json time_range(double rate, double start, double duration) {
  return {{"OTIO_SCHEMA", "TimeRange.1"},
          {"duration", rational_time(rate, duration)},
          {"start_time", rational_time(rate, start)}};
}

// Percent-encodes what a URL path may not hold (Python's urllib.parse.quote, '/' kept).
std::string url_path(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      o += char(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      o += b;
    }
  }
  return o;
}

std::string row(const std::vector<std::string>& cells, const char* tag) {
  std::string o = "<tr>\n";
  for (const auto& c : cells) o += std::string("<") + tag + ">" + c + "</" + tag + ">\n";
  return o + "</tr>\n";
}

}  // namespace

std::string video_name(const std::string& input) {
  return std::filesystem::path(input).stem().string();
}

std::string scene_number(size_t index, size_t scenes) {
  const size_t digits = std::max<size_t>(3, std::to_string(std::max<size_t>(scenes, 1)).size());
  std::string n = std::to_string(index + 1);
  return std::string(digits > n.size() ? digits - n.size() : 0, '0') + n;
}

std::string scenes_edl(const SceneDetection& d, const std::string& title, const std::string& reel) {
  std::ostringstream o;
  o << "* CREATED WITH REELSCALE\nTITLE: " << title << "\nFCM: NON-DROP FRAME\n\n";
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const std::string in = edl_timecode(d.scenes[i].start, d.fps_num, d.fps_den);
    const std::string out = edl_timecode(d.scenes[i].end, d.fps_num, d.fps_den);
    char n[24];
    std::snprintf(n, sizeof n, "%03zu", i + 1);
    o << n << "  " << reel << " V     C        " << in << ' ' << out << ' ' << in << ' ' << out
      << '\n';
  }
  return o.str();
}

nlohmann::json scenes_otio(const SceneDetection& d, const std::string& name, bool audio) {
  const double rate = double(d.fps_num) / double(d.fps_den);
  const auto frames = [&](int64_t n) { return round6(frame_seconds(n, d.fps_num, d.fps_den) * rate); };
  const std::string base = std::filesystem::path(d.input).filename().string();
  const std::string url = std::filesystem::absolute(d.input).lexically_normal().string();
  nlohmann::json clips = nlohmann::json::array();
  for (const Scene& s : d.scenes) {
    nlohmann::json reference = {
        {"OTIO_SCHEMA", "ExternalReference.1"},
        {"name", base},
        {"available_range", time_range(rate, 0.0, frames(d.frame_count))},
        {"available_image_bounds", nullptr},
        {"target_url", url}};
    clips.push_back({{"OTIO_SCHEMA", "Clip.2"},
                     {"name", base},
                     {"source_range", time_range(rate, frames(s.start), frames(s.length()))},
                     {"enabled", true},
                     {"media_references", {{"DEFAULT_MEDIA", reference}}},
                     {"active_media_reference_key", "DEFAULT_MEDIA"}});
  }
  nlohmann::json tracks = nlohmann::json::array();
  const auto track = [&](const char* track_name, const char* kind) {
    tracks.push_back({{"OTIO_SCHEMA", "Track.1"},
                      {"name", track_name},
                      {"enabled", true},
                      {"children", clips},
                      {"kind", kind}});
  };
  track("Video 1", "Video");
  if (audio) track("Audio 1", "Audio");
  return {{"OTIO_SCHEMA", "Timeline.1"},
          {"name", name},
          {"global_start_time", rational_time(rate, 0.0)},
          {"tracks", {{"OTIO_SCHEMA", "Stack.1"}, {"enabled", true}, {"children", tracks}}}};
}

std::string scenes_html(const SceneDetection& d, const std::vector<std::vector<std::string>>& images,
                        int image_width, int image_height) {
  const auto tc = [&](int64_t f) { return format_timecode(f, d.fps_num, d.fps_den); };
  const auto sec = [&](int64_t f) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", frame_seconds(f, d.fps_num, d.fps_den));
    return std::string(b);
  };
  std::string o =
      "<!DOCTYPE html>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\">\n"
      "<title>" + html_escape(video_name(d.input)) + " - scenes</title>\n"
      "<style type=\"text/css\">\n"
      "table.scenes { font-family: sans-serif; font-size: 12px; border-collapse: collapse; }\n"
      "table.scenes th, table.scenes td { border: 1px solid #eee; padding: 8px; }\n"
      "table.scenes th { background-color: #e6eed6; }\n</style>\n";
  std::vector<std::string> cuts = {"Timecode List:"};
  for (int64_t c : d.cuts) cuts.push_back(tc(c));
  o += "<table class=scenes>\n" + row(cuts, "td") + "</table>\n<br />\n<table class=scenes>\n";
  o += row({"Scene Number", "Start Frame", "Start Timecode", "Start Time (seconds)", "End Frame",
            "End Timecode", "End Time (seconds)", "Length (frames)", "Length (timecode)",
            "Length (seconds)"},
           "th");
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const Scene& s = d.scenes[i];
    std::vector<std::string> cells = {
        std::to_string(i + 1),   std::to_string(s.start + 1), tc(s.start), sec(s.start),
        std::to_string(s.end),   tc(s.end),                   sec(s.end),  std::to_string(s.length()),
        tc(s.length()),          sec(s.length())};
    if (i < images.size()) {
      for (const auto& image : images[i]) {
        const std::string src = html_escape(url_path(image));
        std::string cell = "<a href=\"" + src + "\" target=\"_blank\"><img src=\"" + src + "\"";
        if (image_height > 0) cell += " height=\"" + std::to_string(image_height) + "\"";
        if (image_width > 0) cell += " width=\"" + std::to_string(image_width) + "\"";
        cells.push_back(cell + "></a>");
      }
    }
    o += row(cells, "td");
  }
  return o + "</table>\n<br />\n";
}

}  // namespace reelscale::scenes
