#include "shared/media/iso639.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>

namespace reelscale::media {
namespace {

// Debian's iso-codes package: every ISO 639-2 language with its 639-1 and bibliographic codes.
constexpr const char* kIso639Table = "/usr/share/iso-codes/json/iso_639-2.json";

const std::map<std::string, std::string>& iso639_to_terminology() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t;
    std::ifstream in(kIso639Table);
    if (!in) return t;
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("639-2")) return t;
    for (const auto& lang : j["639-2"]) {
      const std::string t3 = lang.value("alpha_3", "");
      if (t3.empty()) continue;
      t[t3] = t3;
      for (const char* other : {"alpha_2", "bibliographic"})
        if (lang.contains(other)) t[lang[other].get<std::string>()] = t3;
    }
    return t;
  }();
  return table;
}

}  // namespace

std::optional<std::string> iso639_terminology(const std::string& code) {
  std::string lower = code;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto& t = iso639_to_terminology();
  const auto it = t.find(lower);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

}  // namespace reelscale::media
