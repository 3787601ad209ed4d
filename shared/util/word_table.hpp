#pragma once
// Enums spelled as words in files and on command lines (a ledger state, a --progress choice):
// one table per enum, read both ways. Configured modes have theirs in shared/config/modes.hpp.
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace reelscale {

template <class E>
using WordTable = std::pair<E, const char*>;

// The value `word` names in `table`, or nothing.
template <class E, std::size_t N>
std::optional<E> from_word(const WordTable<E> (&table)[N], std::string_view word) {
  for (const auto& [value, name] : table)
    if (word == name) return value;
  return std::nullopt;
}

// The word for `value`, or "?" when the table lacks it.
template <class E, std::size_t N>
const char* to_word(const WordTable<E> (&table)[N], E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

}  // namespace reelscale
