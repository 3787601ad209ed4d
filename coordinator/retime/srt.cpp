#include "coordinator/retime/srt.hpp"

#include <cctype>
#include <cstdio>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::srt {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::string format_time(int64_t ms) {
  if (ms < 0) ms = 0;  // SRT cannot express negative times
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld,%03lld", static_cast<long long>(ms / 3600000),
                static_cast<long long>(ms / 60000 % 60), static_cast<long long>(ms / 1000 % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

int64_t parse_time(std::string_view s, const std::string& where) {
  s = trim(s);
  // H+:MM:SS[,.]mmm (milliseconds may have 1-3 digits, as some tools write)
  const auto c1 = s.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : s.find(':', c1 + 1);
  const auto sep = c2 == std::string_view::npos ? c2 : s.find_first_of(",.", c2 + 1);
  if (sep == std::string_view::npos) throw MediaError(where + ": malformed time '" + std::string(s) + "'");
  const std::string_view h = s.substr(0, c1), m = s.substr(c1 + 1, c2 - c1 - 1),
                         sec = s.substr(c2 + 1, sep - c2 - 1), frac = s.substr(sep + 1);
  if (!all_digits(h) || !all_digits(m) || !all_digits(sec) || !all_digits(frac) || frac.size() > 3 ||
      m.size() > 2 || sec.size() > 2 || h.size() > 6)
    throw MediaError(where + ": malformed time '" + std::string(s) + "'");
  const int64_t mm = std::stoll(std::string(m)), ss = std::stoll(std::string(sec));
  if (mm > 59 || ss > 59) throw MediaError(where + ": malformed time '" + std::string(s) + "'");
  int64_t f = std::stoll(std::string(frac));
  for (size_t i = frac.size(); i < 3; ++i) f *= 10;
  return ((std::stoll(std::string(h)) * 60 + mm) * 60 + ss) * 1000 + f;
}

std::vector<SubtitleEvent> parse_srt(std::string_view text, const std::string& name) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = nl + 1;
  }
  std::vector<SubtitleEvent> events;
  size_t i = 0;
  while (i < lines.size()) {
    if (trim(lines[i]).empty()) {
      ++i;
      continue;
    }
    // A cue: optional number line, then the timing line, then text up to a blank line.
    size_t timing = i;
    if (lines[i].find("-->") == std::string_view::npos) {
      if (!all_digits(trim(lines[i])) || i + 1 >= lines.size())
        throw MediaError(name + ":" + std::to_string(i + 1) + ": expected a cue number or timing line, got '" +
                         std::string(lines[i]) + "'");
      timing = i + 1;
    }
    const std::string where = name + ":" + std::to_string(timing + 1);
    const std::string_view tl = lines[timing];
    const auto arrow = tl.find("-->");
    if (arrow == std::string_view::npos)
      throw MediaError(where + ": expected a timing line 'start --> end', got '" + std::string(tl) + "'");
    std::string_view end_part = trim(tl.substr(arrow + 3));
    // Position hints ("X1:... Y2:...") may follow the end time.
    const auto space = end_part.find_first_of(" \t");
    if (space != std::string_view::npos) end_part = end_part.substr(0, space);
    SubtitleEvent ev;
    ev.start_ms = parse_time(tl.substr(0, arrow), where);
    ev.end_ms = parse_time(end_part, where);
    if (ev.end_ms < ev.start_ms) throw MediaError(where + ": the cue ends before it starts");
    i = timing + 1;
    while (i < lines.size() && !trim(lines[i]).empty()) {
      if (!ev.text.empty()) ev.text += '\n';
      ev.text += std::string(lines[i]);
      ++i;
    }
    events.push_back(std::move(ev));
  }
  return events;
}

std::string write_srt(const std::vector<SubtitleEvent>& events) {
  std::string out;
  int n = 0;
  for (const auto& e : events) {
    out += std::to_string(++n) + "\n" + format_time(e.start_ms) + " --> " + format_time(e.end_ms) + "\n";
    out += e.text + "\n\n";
  }
  return out;
}

std::vector<SubtitleEvent> read_srt_file(const std::filesystem::path& file) {
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw MediaError(e.what());
  }
  return parse_srt(text, file.string());
}

void write_srt_file(const std::filesystem::path& file, const std::vector<SubtitleEvent>& events) {
  write_file_atomic(file, write_srt(events));
}

}  // namespace reelscale::srt
