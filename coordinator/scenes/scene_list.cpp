#include "coordinator/scenes/scene_list.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/json_document.hpp"

namespace reelscale::scenes {

double frame_seconds(int64_t frame, int64_t fps_num, int64_t fps_den) {
  if (fps_num <= 0 || fps_den <= 0) return 0.0;
  // The exact rational frame * den / num rounded once, as PySceneDetect's pts-based Timecode
  // (frame / (num / den) rounds twice: 1 ms off at NTSC rates).
  return double(frame * fps_den) / double(fps_num);
}

std::string format_timecode(int64_t frame, int64_t fps_num, int64_t fps_den) {
  // Mirrors FrameTimecode.get_timecode(precision=3, use_rounding=True) step by step.
  double secs = frame_seconds(frame, fps_num, fps_den);
  int64_t hrs = int64_t(secs / 3600.0);
  secs -= double(hrs) * 3600.0;
  int64_t mins = int64_t(secs / 60.0);
  secs = std::max(0.0, secs - double(mins) * 60.0);
  // Python's round(secs, 3) rounds the exact binary value (halves to even), as printf does.
  char rounded[64];
  std::snprintf(rounded, sizeof rounded, "%.3f", secs);
  secs = std::min(60.0, std::strtod(rounded, nullptr));
  if (int64_t(secs) == 60) {
    secs = 0.0;
    if (++mins >= 60) {
      mins = 0;
      ++hrs;
    }
  }
  char frac[32];
  std::snprintf(frac, sizeof frac, "%.4f", secs);  // then drop the 4th decimal, as they do
  const std::string f(frac);
  const std::string msec = f.substr(f.size() - 5, 4);  // ".nnn"
  char out[64];
  std::snprintf(out, sizeof out, "%02lld:%02lld:%02lld%s", (long long)hrs, (long long)mins,
                (long long)int64_t(secs), msec.c_str());
  return out;
}

std::vector<int64_t> merge_cuts(std::vector<int64_t> cuts, int64_t frame_count) {
  // As SceneManager._get_cutting_list: sorted and unique; each detector has already applied
  // min_scene_len to its own cuts, so cuts of different detectors may lie closer.
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<int64_t> out;
  for (int64_t c : cuts)
    if (c > 0 && c < frame_count) out.push_back(c);
  return out;
}

std::vector<Scene> merge_last_scene(std::vector<Scene> scenes, int64_t min_scene_len) {
  if (min_scene_len > 0 && scenes.size() > 1 && scenes.back().length() < min_scene_len) {
    scenes[scenes.size() - 2].end = scenes.back().end;
    scenes.pop_back();
  }
  return scenes;
}

std::vector<Scene> drop_short_scenes(const std::vector<Scene>& scenes, int64_t min_scene_len) {
  if (min_scene_len <= 0) return scenes;
  std::vector<Scene> out;
  for (const Scene& s : scenes)
    if (s.length() >= min_scene_len) out.push_back(s);
  return out;
}

int64_t min_scene_len_frames(const config::Scenes& cfg, int64_t fps_num, int64_t fps_den) {
  if (cfg.min_scene_len_seconds <= 0) return cfg.min_scene_len;
  // FrameTimecode("0.6s").frame_num: round(float * Fraction), the product exact, halves to even.
  const long double frames =
      (long double)cfg.min_scene_len_seconds * (long double)fps_num / (long double)fps_den;
  return int64_t(std::nearbyintl(frames));
}

int64_t time_to_frame(const std::string& text, int64_t fps_num, int64_t fps_den,
                      const std::string& option) {
  const auto bad = [&] {
    return UsageError(option + ": expected frames (250), seconds (10s, 10.5) or a timecode "
                      "(00:00:10.5), got '" + text + "'");
  };
  if (text.empty()) throw bad();
  if (text.find_first_not_of("0123456789") == std::string::npos) return std::stoll(text);
  std::string body = text;
  if (body.back() == 's') body.pop_back();
  double seconds = 0;
  int parts = 0;
  size_t pos = 0;
  for (;; ++parts) {  // [[HH:]MM:]SS[.nnn]
    const size_t colon = body.find(':', pos);
    const std::string part = body.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (part.empty() || part.find_first_not_of("0123456789.") != std::string::npos ||
        std::count(part.begin(), part.end(), '.') > 1 || part == ".")
      throw bad();
    seconds = seconds * 60 + std::stod(part);
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  if (parts > 2 || (parts > 0 && text.back() == 's')) throw bad();
  return int64_t(std::nearbyintl((long double)seconds * fps_num / fps_den));
}

std::string settings_key(const config::Scenes& c, int64_t min_scene_len, bool convert_vfr) {
  nlohmann::json j;
  j["version"] = 2;  // 2: PySceneDetect 0.7 semantics (frame preparation, rounding, merge)
  j["detectors"] = c.detectors;
  j["min_scene_len"] = min_scene_len;
  j["downscale"] = c.downscale;
  j["frame_skip"] = c.frame_skip;
  j["convert_vfr"] = convert_vfr;
  j["content"] = {{"threshold", c.content.threshold},
                  {"weights", c.content.weights},
                  {"luma_only", c.content.luma_only},
                  {"kernel_size", c.content.kernel_size},
                  {"flash_filter", config::to_string(c.content.flash_filter)},
                  {"flash_check", c.content.flash_check}};
  j["hist"] = {{"threshold", c.hist.threshold}, {"bins", c.hist.bins}};
  j["hash"] = {{"threshold", c.hash.threshold}, {"size", c.hash.size},
               {"lowpass", c.hash.lowpass}};
  j["adaptive"] = {{"threshold", c.adaptive.threshold},
                   {"min_content_val", c.adaptive.min_content_val},
                   {"window_width", c.adaptive.window_width}};
  j["threshold"] = {{"threshold", c.threshold.threshold},
                    {"fade_bias", c.threshold.fade_bias},
                    {"method", config::to_string(c.threshold.method)},
                    {"add_final_scene", c.threshold.add_final_scene}};
  return j.dump();
}

nlohmann::json to_json(const SceneDetection& d) {
  nlohmann::json j;
  j["format"] = "reelscale-scenes-1";
  j["input"] = d.input;
  j["input_fingerprint"] = d.input_fingerprint;
  j["settings"] = d.settings;
  j["frame_count"] = d.frame_count;
  j["fps"] = {{"num", d.fps_num}, {"den", d.fps_den}};
  j["analysis_size"] = {d.analysis_width, d.analysis_height};
  j["detectors"] = d.detectors;
  j["cuts"] = d.cuts;
  if (!d.whole_video()) j["range"] = {d.range_begin, d.range_end};
  auto& arr = j["scenes"] = nlohmann::json::array();
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const Scene& s = d.scenes[i];
    arr.push_back({{"number", i + 1},
                   {"start_frame", s.start},
                   {"end_frame", s.end},
                   {"length_frames", s.length()},
                   {"start_timecode", format_timecode(s.start, d.fps_num, d.fps_den)},
                   {"end_timecode", format_timecode(s.end, d.fps_num, d.fps_den)},
                   {"length_timecode", format_timecode(s.length(), d.fps_num, d.fps_den)},
                   {"start_seconds", frame_seconds(s.start, d.fps_num, d.fps_den)},
                   {"end_seconds", frame_seconds(s.end, d.fps_num, d.fps_den)},
                   {"length_seconds", frame_seconds(s.length(), d.fps_num, d.fps_den)}});
  }
  return j;
}

SceneDetection scene_detection_from_json(const nlohmann::json& j, const std::string& what) {
  SceneDetection d;
  read_json_document(j, "reelscale-scenes-1", "scene list", what, [&] {
    d.input = j.at("input").get<std::string>();
    d.input_fingerprint = j.value("input_fingerprint", "");
    d.settings = j.value("settings", "");
    d.frame_count = j.at("frame_count").get<int64_t>();
    d.fps_num = j.at("fps").at("num").get<int64_t>();
    d.fps_den = j.at("fps").at("den").get<int64_t>();
    d.analysis_width = j.at("analysis_size").at(0).get<int>();
    d.analysis_height = j.at("analysis_size").at(1).get<int>();
    d.detectors = j.at("detectors").get<std::vector<std::string>>();
    d.cuts = j.at("cuts").get<std::vector<int64_t>>();
    for (const auto& s : j.at("scenes"))
      d.scenes.push_back({s.at("start_frame").get<int64_t>(), s.at("end_frame").get<int64_t>()});
    d.range_end = d.frame_count;
    if (j.contains("range")) {
      d.range_begin = j.at("range").at(0).get<int64_t>();
      d.range_end = j.at("range").at(1).get<int64_t>();
    }
  });
  // The scenes must tile the video (or the range analysed), or a plan built from them would
  // drop or repeat frames.
  int64_t pos = d.range_begin;
  for (const Scene& s : d.scenes) {
    if (s.start != pos || s.end <= s.start)
      throw Error(what + ": scenes do not tile the video at frame " + std::to_string(pos));
    pos = s.end;
  }
  if (pos != d.range_end)
    throw Error(what + ": scenes end at frame " + std::to_string(pos) + ", the " +
                (d.whole_video() ? "video has " : "range analysed ends at ") + std::to_string(d.range_end));
  return d;
}

static std::string seconds3(double s) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f", s);
  return b;
}

std::string scenes_csv(const SceneDetection& d) {
  std::ostringstream o;
  // As write_scene_list: with no cut the first row is empty (its fallback lists no scene).
  if (!d.cuts.empty()) o << "Timecode List:";
  for (int64_t c : d.cuts) o << ',' << format_timecode(c, d.fps_num, d.fps_den);
  o << '\n';
  o << "Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,"
       "End Time (seconds),Length (frames),Length (timecode),Length (seconds)\n";
  const auto tc = [&](int64_t f) { return format_timecode(f, d.fps_num, d.fps_den); };
  const auto sec = [&](int64_t f) { return seconds3(frame_seconds(f, d.fps_num, d.fps_den)); };
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const Scene& s = d.scenes[i];
    o << (i + 1) << ',' << (s.start + 1) << ',' << tc(s.start) << ',' << sec(s.start) << ','
      << s.end << ',' << tc(s.end) << ',' << sec(s.end) << ',' << s.length() << ','
      << tc(s.length()) << ',' << sec(s.length()) << '\n';
  }
  return o.str();
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  // Shortest round-trip digits in scientific form, then laid out as Python's repr does:
  // positional for exponents in [-4, 16), scientific otherwise.
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  const bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  const size_t epos = s.find('e');
  std::string digits = s.substr(0, epos);
  const int exp = std::stoi(s.substr(epos + 1));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += e;
  }
  return neg ? "-" + out : out;
}

std::string stats_csv(const SceneDetection& d) {
  std::ostringstream o;
  const auto keys = d.stats.keys();
  o << "Frame Number,Timecode";
  for (const auto& k : keys) o << ',' << k;
  o << '\n';
  for (const auto& [frame, metrics] : d.stats.rows()) {
    o << (frame + 1) << ',' << format_timecode(frame, d.fps_num, d.fps_den);
    for (const auto& k : keys) {
      const auto it = metrics.find(k);
      o << ',' << (it == metrics.end() ? std::string("None") : python_float_repr(it->second));
    }
    o << '\n';
  }
  return o.str();
}

void write_scenes_json(const std::filesystem::path& path, const SceneDetection& d) {
  write_file_atomic(path, to_json(d).dump(2) + "\n");
}

SceneDetection read_scenes_json(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
  return scene_detection_from_json(j, path.string());
}

}  // namespace reelscale::scenes
