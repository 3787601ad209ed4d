#pragma once
// The project's own JSON documents (scenes.json, plan.json): a "format" word with a version,
// checked before anything else is read, and every missing or mistyped key an Error naming the
// file, rather than nlohmann's bare message.
#include <nlohmann/json.hpp>

#include <string>

#include "shared/util/errors.hpp"

namespace reelscale {

// Checks that `j` is a `format` document (else Error: "WHAT: not a reelscale KIND (format
// '...')"), then runs `read`; a json exception from either becomes "WHAT: malformed KIND: ...".
template <class Read>
void read_json_document(const nlohmann::json& j, const std::string& format, const std::string& kind,
                        const std::string& what, Read read) {
  try {
    const std::string found = j.at("format").get<std::string>();
    if (found != format) throw Error(what + ": not a reelscale " + kind + " (format '" + found + "')");
    read();
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": malformed " + kind + ": " + e.what());
  }
}

}  // namespace reelscale
