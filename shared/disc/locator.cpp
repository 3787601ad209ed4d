#include "shared/disc/locator.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>

#include "shared/util/errors.hpp"

namespace reelscale::disc {
namespace fs = std::filesystem;
namespace {

constexpr const char* kScheme = "dvd:";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

bool has_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (upper(e.path().filename().string()) == name) return true;
  return false;
}

}  // namespace

bool is_disc_locator(const std::string& text) { return text.rfind(kScheme, 0) == 0; }

Locator parse_locator(const std::string& text) {
  if (!is_disc_locator(text)) throw UsageError("not a disc locator: " + text);
  Locator l;
  const std::string rest = text.substr(4);
  const auto hash = rest.rfind('#');
  l.path = rest.substr(0, hash);
  if (hash == std::string::npos) return l;
  static const std::regex param(R"((title|angle|vts)=(\d{1,3}))");
  const std::string query = rest.substr(hash + 1);
  size_t at = 0;
  while (at <= query.size()) {
    const size_t amp = std::min(query.find('&', at), query.size());
    const std::string item = query.substr(at, amp - at);
    std::smatch m;
    if (!std::regex_match(item, m, param)) throw UsageError("disc locator " + text + ": cannot read '" + item + "'");
    const int v = std::stoi(m[2]);
    (m[1] == "title" ? l.title : m[1] == "angle" ? l.angle : l.title_set) = v;
    at = amp + 1;
  }
  return l;
}

std::string format_locator(const Locator& l) {
  std::string s = kScheme + l.path, sep = "#";
  auto add = [&](const char* key, int v) { s += sep + key + "=" + std::to_string(v), sep = "&"; };
  if (l.title > 0) add("title", l.title);
  if (l.angle != 1) add("angle", l.angle);
  if (l.title == 0 && l.title_set > 0) add("vts", l.title_set);
  return s;
}

std::optional<Locator> disc_locator(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return std::nullopt;
  const fs::path p(path);
  if (S_ISBLK(st.st_mode)) return Locator{path};
  if (S_ISDIR(st.st_mode)) {
    if (upper(p.filename().string()) == "VIDEO_TS" || has_file(p, "VIDEO_TS.IFO") || has_file(p, "VIDEO_TS"))
      return Locator{path};
    return std::nullopt;
  }
  const std::string ext = upper(p.extension().string());
  if (ext == ".ISO" || ext == ".IMG") return Locator{path};
  static const std::regex vts_file(R"(VTS_(\d\d)_\d\.(VOB|IFO|BUP))");
  std::smatch m;
  const std::string name = upper(p.filename().string());
  if ((ext == ".VOB" || ext == ".IFO" || ext == ".BUP") && has_file(p.parent_path(), "VIDEO_TS.IFO")) {
    Locator l{p.parent_path().string()};
    if (std::regex_match(name, m, vts_file)) l.title_set = std::stoi(m[1]);
    return l;
  }
  return std::nullopt;
}

std::string locator_file(const std::string& text) {
  return is_disc_locator(text) ? parse_locator(text).path : text;
}

FilesStamp files_stamp(const std::string& text) {
  fs::path root(locator_file(text));
  std::error_code ec;
  FilesStamp st{0, 0};
  auto add = [&](const fs::path& f) {
    const auto size = fs::file_size(f, ec);
    if (ec) return false;
    const auto t = fs::last_write_time(f, ec);
    if (ec) return false;
    st.size += int64_t(size);
    st.mtime = std::max<int64_t>(st.mtime, int64_t(t.time_since_epoch().count()));
    return true;
  };
  if (!fs::is_directory(root, ec)) return add(root) ? st : FilesStamp{};
  if (fs::is_directory(root / "VIDEO_TS", ec)) root /= "VIDEO_TS";
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_regular_file() && !add(e.path())) return {};
  return ec ? FilesStamp{} : st;
}

}  // namespace reelscale::disc
