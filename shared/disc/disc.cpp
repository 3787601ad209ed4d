#include "shared/disc/disc.hpp"

#include <dvdread/ifo_types.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "shared/util/errors.hpp"

namespace reelscale::disc {
namespace {

// libdvdread's own messages go to the debug log: ours name the file and title instead.
void dvdread_log(void*, dvd_logger_level_t level, const char* fmt, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, args);
  if (level <= DVD_LOGGER_LEVEL_WARN) spdlog::debug("libdvdread: {}", line);
}
const dvd_logger_cb kLogger{dvdread_log};

int bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0x0f); }

double time_fps(const dvd_time_t& t) { return (t.frame_u >> 6) == 3 ? 30000.0 / 1001 : 25.0; }

int64_t time_ms(const dvd_time_t& t) {
  const int64_t s = bcd(t.hour) * 3600 + bcd(t.minute) * 60 + bcd(t.second);
  return s * 1000 + int64_t(bcd(t.frame_u & 0x3f) * 1000 / time_fps(t));
}

int64_t time_ticks(const dvd_time_t& t) {
  const int64_t s = bcd(t.hour) * 3600 + bcd(t.minute) * 60 + bcd(t.second);
  return s * 90000 + bcd(t.frame_u & 0x3f) * ((t.frame_u >> 6) == 3 ? 3003 : 3600);
}

CellRun cell_run(int number, const cell_playback_t* c) {
  return {number, c->first_sector, c->last_sector, c->last_vobu_start_sector, time_ms(c->playback_time),
          time_ticks(c->playback_time), bool(c->interleaved)};
}

std::string language(uint16_t code, int lang_type) {
  if (lang_type != 1 || code == 0 || code == 0xffff) return "";
  const char a = char(code >> 8), b = char(code & 0xff);
  if (a < 'a' || a > 'z' || b < 'a' || b > 'z') return "";
  return std::string{a, b};
}

// 0x00YYCrCb -> 0xRRGGBB (BT.601 studio range, as libavcodec's dvdsub decoder converts).
uint32_t ycrcb_to_rgb(uint32_t v) {
  const double y = ((v >> 16) & 0xff) - 16.0, cr = ((v >> 8) & 0xff) - 128.0, cb = (v & 0xff) - 128.0;
  auto clamp = [](double x) { return uint32_t(std::clamp(x + 0.5, 0.0, 255.0)); };
  const double yy = 1.164 * y;
  return clamp(yy + 1.596 * cr) << 16 | clamp(yy - 0.813 * cr - 0.391 * cb) << 8 | clamp(yy + 2.018 * cb);
}

AudioTrack audio_track(const audio_attr_t& a, int physical) {
  AudioTrack t;
  t.language = language(a.lang_code, a.lang_type);
  t.channels = a.channels + 1;
  switch (a.audio_format) {
    case 0: t.codec = "ac3", t.stream_id = 0x80 + physical; break;
    case 2: case 3: t.codec = "mpeg", t.stream_id = 0x1c0 + physical; break;
    case 4: t.codec = "lpcm", t.stream_id = 0xa0 + physical; break;
    case 6: t.codec = "dts", t.stream_id = 0x88 + physical; break;
    default: t.codec = "unknown", t.stream_id = 0x80 + physical; break;
  }
  return t;
}

const pgc_t* pgc_of(const ifo_handle_t* vts, int pgcn) {
  if (!vts->vts_pgcit || pgcn < 1 || pgcn > vts->vts_pgcit->nr_of_pgci_srp) return nullptr;
  return vts->vts_pgcit->pgci_srp[pgcn - 1].pgc;
}

// The PGC cells (1-based, inclusive) program `pgn` plays.
std::pair<int, int> program_cells(const pgc_t* pgc, int pgn) {
  const int first = pgc->program_map[pgn - 1];
  const int last = pgn < pgc->nr_of_programs ? pgc->program_map[pgn] - 1 : pgc->nr_of_cells;
  return {first, last};
}

// The cells of cell range [first, last] of `pgc`, one per angle block (the chosen angle).
void append_cells(const pgc_t* pgc, int first, int last, int angle, std::vector<CellRun>& out) {
  for (int c = first; c <= last; ++c) {
    const cell_playback_t* cell = &pgc->cell_playback[c - 1];
    if (cell->block_type == BLOCK_TYPE_ANGLE_BLOCK && cell->block_mode == BLOCK_MODE_FIRST_CELL) {
      int end = c;
      while (end < last && pgc->cell_playback[end - 1].block_mode != BLOCK_MODE_LAST_CELL) ++end;
      const int chosen = std::min(c + angle - 1, end);
      cell = &pgc->cell_playback[chosen - 1];
      out.push_back(cell_run(chosen, cell));
      c = end;
      continue;
    }
    out.push_back(cell_run(c, cell));
  }
}

std::string vob_name(int title_set) {
  char name[32];
  std::snprintf(name, sizeof name, "VTS_%02d_1.VOB", title_set);
  return name;
}

}  // namespace

Disc::Disc(const std::string& path) : path_(path) {
  reader_.reset(DVDOpen2(nullptr, &kLogger, path.c_str()));
  if (!reader_) throw UsageError("input " + path + ": not a readable DVD-Video disc (libdvdread cannot open it)");
  vmg_.reset(ifoOpen(reader_.get(), 0));
  if (!vmg_) throw UsageError("input " + path + ": no readable VIDEO_TS.IFO (an empty or damaged VIDEO_TS folder?)");
  const tt_srpt_t* tt = vmg_->tt_srpt;
  if (!tt || tt->nr_of_srpts == 0)
    throw UsageError("input " + path + ": the disc has no titles, only menus (VIDEO_TS.IFO lists 0 titles)");
  vts_.resize(size_t(vmg_->vmgi_mat->vmg_nr_of_title_sets) + 1);
  for (int i = 0; i < tt->nr_of_srpts; ++i) {
    const title_info_t& info = tt->title[i];
    const int set = info.title_set_nr;
    if (set < 1 || set >= int(vts_.size()))
      throw UsageError("input " + path + ": title " + std::to_string(i + 1) + " names title set " +
                       std::to_string(set) + ", which VIDEO_TS.IFO does not list");
    if (!vts_[set]) {
      vts_[set].reset(ifoOpen(reader_.get(), set));
      if (!vts_[set]) {
        char name[32];
        std::snprintf(name, sizeof name, "VTS_%02d_0.IFO", set);
        throw UsageError("input " + path + ": cannot read " + name + " (title " + std::to_string(i + 1) + ")");
      }
    }
    const ifo_handle_t* vts = vts_[set].get();
    Title t;
    t.number = i + 1;
    t.title_set = set;
    t.angles = std::max<int>(1, info.nr_of_angles);
    const vtsi_mat_t* mat = vts->vtsi_mat;
    t.aspect = mat->vts_video_attr.display_aspect_ratio == 3 ? "16:9" : "4:3";
    t.height = mat->vts_video_attr.video_format == 0 ? 480 : 576;
    static const int kWidths[] = {720, 704, 352, 352};
    t.width = kWidths[mat->vts_video_attr.picture_size & 3];
    const bool wide = t.aspect == "16:9";
    if (!vts->vts_ptt_srpt || info.vts_ttn < 1 || info.vts_ttn > vts->vts_ptt_srpt->nr_of_srpts)
      throw UsageError("input " + path + ": title " + std::to_string(t.number) + " has no chapter table in its IFO");
    const ttu_t& ttu = vts->vts_ptt_srpt->title[info.vts_ttn - 1];
    const pgc_t* first_pgc = ttu.nr_of_ptts > 0 ? pgc_of(vts, ttu.ptt[0].pgcn) : nullptr;
    if (!first_pgc || !first_pgc->cell_playback || !first_pgc->program_map)
      throw UsageError("input " + path + ": title " + std::to_string(t.number) + " has no playable program chain");
    t.frame_rate = time_fps(first_pgc->playback_time);
    // Chapter starts: the duration of the cells before each chapter's first cell (angle 1).
    int64_t at = 0;
    for (int k = 0; k < ttu.nr_of_ptts; ++k) {
      const pgc_t* pgc = pgc_of(vts, ttu.ptt[k].pgcn);
      if (!pgc || !pgc->program_map || ttu.ptt[k].pgn < 1 || ttu.ptt[k].pgn > pgc->nr_of_programs) continue;
      t.chapters.push_back({at});
      std::vector<CellRun> runs;
      const auto [first, last] = program_cells(pgc, ttu.ptt[k].pgn);
      append_cells(pgc, first, last, 1, runs);
      for (const auto& r : runs) at += r.duration_ms;
    }
    t.duration_ms = at;
    for (int a = 0; a < std::min<int>(mat->nr_of_vts_audio_streams, 8); ++a) {
      const uint16_t control = first_pgc->audio_control[a];
      if (!(control & 0x8000)) continue;  // not available in this title
      t.audio.push_back(audio_track(mat->vts_audio_attr[a], (control >> 8) & 0x07));
    }
    for (int s = 0; s < std::min<int>(mat->nr_of_vts_subp_streams, 32); ++s) {
      const uint32_t control = first_pgc->subp_control[s];
      if (!(control & 0x80000000u)) continue;
      const subp_attr_t& attr = mat->vts_subp_attr[s];
      const int physical = wide ? (control >> 16) & 0x1f : (control >> 24) & 0x1f;
      t.subtitles.push_back({0x20 + physical, language(attr.lang_code, attr.type), attr.code_extension == 9});
    }
    for (uint32_t c : first_pgc->palette) t.palette.push_back(ycrcb_to_rgb(c));
    titles_.push_back(std::move(t));
  }
}

Disc::~Disc() = default;

const Title& Disc::title(int number) const {
  if (number >= 1 && number <= int(titles_.size())) return titles_[size_t(number - 1)];
  throw UsageError("input " + path_ + ": title " + std::to_string(number) + " does not exist (the disc has " +
                   std::to_string(titles_.size()) + " title" + (titles_.size() == 1 ? "" : "s") +
                   "; `reelscale probe " + path_ + "` lists them)");
}

const Title& Disc::main_title(int title_set) const {
  const Title* best = nullptr;
  for (const auto& t : titles_) {
    if (title_set > 0 && t.title_set != title_set) continue;
    if (!best || t.duration_ms > best->duration_ms) best = &t;  // ties: the lower number
  }
  if (!best) throw UsageError("input " + path_ + ": no title plays title set " + std::to_string(title_set) +
                              " (" + vob_name(title_set) + " holds only menus?)");
  return *best;
}

std::vector<CellRun> Disc::cells(const Title& t, int angle) const {
  if (angle < 1 || angle > t.angles)
    throw UsageError("input " + path_ + ": title " + std::to_string(t.number) + " has " + std::to_string(t.angles) +
                     " angle" + (t.angles == 1 ? "" : "s") + ", not angle " + std::to_string(angle));
  const ifo_handle_t* vts = vts_[size_t(t.title_set)].get();
  const title_info_t& info = vmg_->tt_srpt->title[t.number - 1];
  const ttu_t& ttu = vts->vts_ptt_srpt->title[info.vts_ttn - 1];
  std::vector<CellRun> out;
  for (int k = 0; k < ttu.nr_of_ptts; ++k) {
    const pgc_t* pgc = pgc_of(vts, ttu.ptt[k].pgcn);
    if (!pgc || !pgc->program_map || ttu.ptt[k].pgn < 1 || ttu.ptt[k].pgn > pgc->nr_of_programs) continue;
    const auto [first, last] = program_cells(pgc, ttu.ptt[k].pgn);
    append_cells(pgc, first, last, angle, out);
  }
  if (out.empty()) throw UsageError("input " + path_ + ": title " + std::to_string(t.number) + " plays no cells");
  return out;
}

FilePtr Disc::open_title_vobs(int title_set) const {
  FilePtr f(DVDOpenFile(reader_.get(), title_set, DVD_READ_TITLE_VOBS));
  if (!f) throw UsageError("input " + path_ + ": cannot open " + vob_name(title_set) + " (missing title VOBs)");
  return f;
}

void Disc::check_cells(const Title& t, const std::vector<CellRun>& cells, int64_t vob_sectors) const {
  for (const auto& c : cells) {
    if (c.last_sector < c.first_sector || int64_t(c.last_sector) >= vob_sectors) {
      char name[40];
      std::snprintf(name, sizeof name, "VTS_%02d_*.VOB", t.title_set);
      throw UsageError("input " + path_ + ": title " + std::to_string(t.number) + ", cell " + std::to_string(c.cell) +
                       " ends at sector " + std::to_string(c.last_sector) + " but " + name + " hold only " +
                       std::to_string(vob_sectors) + " sectors (a truncated VOB, or an IFO from another disc)");
    }
  }
}

std::string describe_titles(const Disc& disc) {
  std::string s;
  const int main = disc.main_title().number;
  for (const auto& t : disc.titles()) {
    char head[160];
    const int64_t sec = t.duration_ms / 1000;
    std::snprintf(head, sizeof head, "title %2d%s  %d:%02d:%02d  %zu chapters  %d angle%s  title set %d  %dx%d %s\n",
                  t.number, t.number == main ? "*" : " ", int(sec / 3600), int(sec / 60 % 60), int(sec % 60),
                  t.chapters.size(), t.angles, t.angles == 1 ? "" : "s", t.title_set, t.width, t.height,
                  t.aspect.c_str());
    s += head;
    for (const auto& a : t.audio) {
      char line[120];
      std::snprintf(line, sizeof line, "    audio    0x%x  %s %dch  %s\n", a.stream_id, a.codec.c_str(), a.channels,
                    a.language.empty() ? "und" : a.language.c_str());
      s += line;
    }
    for (const auto& sub : t.subtitles) {
      char line[120];
      std::snprintf(line, sizeof line, "    subtitle 0x%x  %s%s\n", sub.stream_id,
                    sub.language.empty() ? "und" : sub.language.c_str(), sub.forced ? "  forced" : "");
      s += line;
    }
  }
  return s + "(* = the main title, chosen by default; input.title chooses another)\n";
}

}  // namespace reelscale::disc
