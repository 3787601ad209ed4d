#include "shared/media/preprocess.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <regex>

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::media {
namespace {

// Nearest even integer to n/d (n, d > 0), halves rounding up: exact, no floating point.
int round_even(int64_t n, int64_t d) { return int(2 * ((n + d) / (2 * d))); }
int ceil_even(int v) { return v + (v & 1); }

int64_t meta_int(const AVFrame* f, const char* key, int64_t fallback) {
  const AVDictionaryEntry* e = av_dict_get(f->metadata, key, nullptr, 0);
  return e && e->value ? std::strtoll(e->value, nullptr, 10) : fallback;
}

bool is_sd_bt601(const VideoInfo& info) {
  if (info.height > 576) return false;
  return info.colorspace == AVCOL_SPC_UNSPECIFIED || info.colorspace == AVCOL_SPC_BT470BG ||
         info.colorspace == AVCOL_SPC_SMPTE170M;
}

// colormatrix handles 8-bit planar Y'CbCr only; other formats go through scale's matrix
// conversion.
bool colormatrix_supports(AVPixelFormat f) {
  return f == AV_PIX_FMT_YUV420P || f == AV_PIX_FMT_YUV422P || f == AV_PIX_FMT_YUV444P ||
         f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P;
}

std::optional<CropRect> parse_crop(const std::string& s, const VideoInfo& info) {
  static const std::regex re(R"(^(\d+):(\d+):(\d+):(\d+)$)");
  std::smatch m;
  if (!std::regex_match(s, m, re))
    throw ConfigError("preprocess.crop: \"" + s + "\" is not none, auto or W:H:X:Y");
  CropRect c{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
  if (c.width <= 0 || c.height <= 0 || c.x + c.width > info.width ||
      c.y + c.height > info.height)
    throw ConfigError("preprocess.crop: " + s + " does not fit the " +
                      std::to_string(info.width) + "x" + std::to_string(info.height) +
                      " frame of " + info.path);
  return c;
}

}  // namespace

std::string CropRect::to_string() const {
  return std::to_string(width) + ":" + std::to_string(height) + ":" + std::to_string(x) + ":" +
         std::to_string(y);
}

std::pair<int, int> square_pixel_size(int width, int height, AVRational sar) {
  if (sar.num <= 0 || sar.den <= 0 || sar.num == sar.den) return {width, height};
  if (sar.num > sar.den)  // wide pixels: widen the picture
    return {round_even(int64_t(width) * sar.num, sar.den), height};
  return {width, round_even(int64_t(height) * sar.den, sar.num)};  // tall pixels: heighten
}

int64_t PreprocessPlan::output_count(int64_t decoded) const {
  return decoded / map_in * map_out + std::min<int64_t>(decoded % map_in, map_out);
}

std::pair<int64_t, int64_t> PreprocessPlan::decode_range(int64_t out_begin, int64_t out_end,
                                                         int64_t decoded) const {
  const int64_t begin = out_begin / map_out * map_in - context_frames;
  const int64_t end = (out_end + map_out - 1) / map_out * map_in + context_frames;
  return {std::max<int64_t>(0, begin), std::min(decoded, end)};
}

int64_t PreprocessPlan::output_frame(int64_t decoded) const {
  return decoded / map_in * map_out + decoded % map_in * map_out / map_in;
}

int64_t PreprocessPlan::decoded_frame(int64_t out) const {
  return out / map_out * map_in + out % map_out * map_in / map_out;
}

namespace {

// The deinterlace / telecine part of the graph, with the mapping and context it implies.
void add_field_filters(PreprocessPlan& plan, std::vector<std::string>& filters,
                       const config::Preprocess& cfg, const VideoInfo& info,
                       config::Deinterlace deinterlace, bool deint_all,
                       config::Telecine telecine) {
  using config::Deinterlace;
  if (telecine == config::Telecine::ivtc) {
    // fieldmatch rebuilds the film frames from matching fields, bwdif cleans the few it
    // leaves combed (orphan fields at edits), decimate drops the one duplicate per 5.
    filters.push_back("fieldmatch=order=auto:combmatch=full");
    filters.push_back("bwdif=mode=send_frame:parity=auto:deint=interlaced");
    filters.push_back("decimate=cycle=5");
    plan.telecine = "ivtc";
    plan.deinterlace = "ivtc";
    plan.map_in = 5;
    plan.map_out = 4;
    plan.context_frames = 5;  // one whole cycle: decimate compares with the cycle before
    plan.out_rate = av_mul_q(info.frame_rate, AVRational{4, 5});
    plan.source_kind = "film";
    return;
  }
  if (telecine == config::Telecine::soft) {
    // The coded pictures are the film frames: the repeat flags only tell a player to show
    // some fields twice. Nothing to filter; the frames are numbered at the film's rate.
    plan.telecine = "soft";
    plan.out_rate = {24000, 1001};
    plan.source_kind = "film";
    return;
  }
  if (deinterlace == Deinterlace::bwdif || deinterlace == Deinterlace::yadif) {
    const bool per_field = cfg.deinterlace_rate == config::DeinterlaceRate::field;
    // send_field makes two frames of every frame, so it must deinterlace all of them (a
    // progressive frame passed once would break the 1:2 mapping).
    filters.push_back(config::to_string(deinterlace) + "=mode=" + (per_field ? "send_field" : "send_frame") +
                      ":parity=auto:deint=" + (deint_all || per_field ? "all" : "interlaced"));
    plan.deinterlace = config::to_string(deinterlace);
    plan.context_frames = 1;
    plan.source_kind = "video";
    if (per_field) {
      plan.map_out = 2;
      plan.out_rate = av_mul_q(info.frame_rate, AVRational{2, 1});
    }
  } else if (deinterlace != Deinterlace::off) {
    throw ConfigError("preprocess.deinterlace: auto must be decided before the graph is built");
  }
}

// A raw graph whose filters map frames in fixed groups - decimate (n -> n-1 per cycle), a
// deinterlacer sending fields (1 -> 2) - gets that mapping from its declared rate. Others
// (fps=, select=: by timestamp or content) must keep one frame per frame, checked by pts.
void map_raw_graph(PreprocessPlan& plan, const FilterGraph& graph, const VideoInfo& info) {
  const AVRational in = filter_input_from(info).frame_rate, out = graph.out_frame_rate();
  if (out.num <= 0 || out.den <= 0 || av_cmp_q(in, out) == 0) return;
  const AVRational ratio = av_div_q(out, in);  // reduced
  const std::string& g = plan.filtergraph;
  const bool decimates = g.find("decimate") != std::string::npos && ratio.num + 1 == ratio.den;
  const bool sends_fields = g.find("send_field") != std::string::npos && ratio.num == 2 && ratio.den == 1;
  if (!(decimates || sends_fields) || ratio.den > 5) return;
  plan.map_in = ratio.den;
  plan.map_out = ratio.num;
  plan.context_frames = std::max(2, plan.map_in);
  plan.context_frames += (plan.map_in - plan.context_frames % plan.map_in) % plan.map_in;
  plan.out_rate = out;
  plan.notes.push_back("raw filtergraph changes the rate " + std::to_string(in.num) + "/" +
                       std::to_string(in.den) + " -> " + std::to_string(out.num) + "/" +
                       std::to_string(out.den) + ": every " + std::to_string(plan.map_in) +
                       " decoded frames give " + std::to_string(plan.map_out));
}

}  // namespace

PreprocessPlan build_preprocess(const config::Preprocess& cfg, const VideoInfo& info,
                                config::Deinterlace deinterlace, bool deint_all,
                                const std::optional<CropRect>& crop, config::Telecine telecine) {
  PreprocessPlan plan;
  std::vector<std::string> filters;
  if (!cfg.filtergraph.empty()) {
    plan.filtergraph = cfg.filtergraph;
    plan.deinterlace = "raw";
    // A raw graph may hold temporal filters we cannot see into; two frames each side cover
    // the deinterlacers and most denoisers' windows.
    plan.context_frames = 2;
    plan.notes.push_back("raw filtergraph: replaces deinterlace, crop, resize and colormatrix");
  } else {
    add_field_filters(plan, filters, cfg, info, deinterlace, deint_all, telecine);
    int w = info.width, h = info.height;
    if (crop) {
      filters.push_back("crop=" + crop->to_string());
      plan.crop = crop;
      w = crop->width;
      h = crop->height;
    }
    const bool convert = cfg.colormatrix == config::ColorMatrix::bt601_to_bt709 ||
                         (cfg.colormatrix == config::ColorMatrix::automatic && is_sd_bt601(info));
    if (convert) {
      if (colormatrix_supports(info.pix_fmt))
        filters.push_back("colormatrix=src=bt601:dst=bt709");
      else
        filters.push_back("scale=in_color_matrix=bt601:out_color_matrix=bt709:flags=accurate_rnd+bitexact");
      // Tag the frames, so the RGB conversion uses BT.709 from here on (not twice BT.601).
      filters.push_back("setparams=colorspace=bt709");
      plan.colormatrix = true;
    }
    int out_w = w, out_h = h;
    bool set_square = false;
    if (cfg.resize == "square") {
      std::tie(out_w, out_h) = square_pixel_size(w, h, info.sample_aspect_ratio);
      set_square = true;
    } else if (cfg.resize != "off") {
      static const std::regex re(R"(^(\d+)x(\d+)$)");
      std::smatch m;
      if (!std::regex_match(cfg.resize, m, re) || std::stoi(m[1]) <= 0 || std::stoi(m[2]) <= 0)
        throw ConfigError("preprocess.resize: \"" + cfg.resize + "\" is not off, square or WxH");
      out_w = std::stoi(m[1]);
      out_h = std::stoi(m[2]);
    }
    if (out_w != w || out_h != h)
      filters.push_back("scale=" + std::to_string(out_w) + ":" + std::to_string(out_h) +
                        ":flags=lanczos+accurate_rnd+full_chroma_int+bitexact");
    if (set_square) filters.push_back("setsar=1");
    std::string joined;
    for (const std::string& f : filters) joined += (joined.empty() ? "" : ",") + f;
    plan.filtergraph = joined.empty() ? "null" : joined;
  }
  // The output size as libavfilter computes it (a raw graph can do anything).
  FilterGraph graph(plan.filtergraph, filter_input_from(info));
  if (!cfg.filtergraph.empty()) map_raw_graph(plan, graph, info);
  if (plan.out_rate.num <= 0) plan.out_rate = info.frame_rate;
  plan.out_width = graph.out_width();
  plan.out_height = graph.out_height();
  plan.out_sar = graph.out_sample_aspect_ratio();
  if (plan.out_sar.num <= 0) plan.out_sar = {1, 1};
  return plan;
}

namespace {

struct IdetCounts {
  int tff = 0, bff = 0, progressive = 0, undetermined = 0;
  int repeated_top = 0, repeated_bottom = 0, repeated_neither = 0;
};

// idet over `runs` runs of `frames` consecutive frames spread over the film.
IdetCounts run_idet(VideoReader& reader, int runs, int frames) {
  IdetCounts c;
  const int64_t n = reader.info().frame_count;
  const FilterInput input = filter_input_from(reader.info());
  av::FramePtr frame, out;
  for (int r = 0; r < runs; ++r) {
    const int64_t start = std::clamp<int64_t>((r + 1) * n / (runs + 1) - frames / 2, 0,
                                              std::max<int64_t>(0, n - frames));
    FilterGraph idet("idet", input);
    reader.seek(start);
    for (int i = 0; i < frames && reader.read(frame); ++i) idet.push(frame.get());
    idet.push(nullptr);
    av::FramePtr last;
    while (idet.pull(out)) last = std::move(out);
    if (!last) continue;
    // The counts are cumulative over the run: the last frame carries the totals.
    auto get = [&](const char* key) { return int(meta_int(last.get(), key, 0)); };
    c.tff += get("lavfi.idet.multiple.tff");
    c.bff += get("lavfi.idet.multiple.bff");
    c.progressive += get("lavfi.idet.multiple.progressive");
    c.undetermined += get("lavfi.idet.multiple.undetermined");
    c.repeated_top += get("lavfi.idet.repeated.top");
    c.repeated_bottom += get("lavfi.idet.repeated.bottom");
    c.repeated_neither += get("lavfi.idet.repeated.neither");
  }
  return c;
}

bool near_rate(AVRational r, AVRational want) {
  return r.num > 0 && r.den > 0 && std::fabs(av_q2d(r) - av_q2d(want)) <= av_q2d(want) * 0.002;
}

}  // namespace

TelecineReport detect_telecine(VideoReader& reader, int flag_frames, int idet_runs,
                               int idet_frames) {
  TelecineReport rep;
  rep.pulldown_timing = reader.index().soft_pulldown;
  av::FramePtr frame;
  reader.seek(0);
  for (int i = 0; i < flag_frames && reader.read(frame); ++i) {
    ++rep.frames_checked;
    if (frame->repeat_pict > 0) ++rep.repeat_flagged;
  }
  // 3:2 soft pulldown flags every other frame; a few flags are stray ones.
  if (rep.pulldown_timing || (rep.repeat_flagged > 0 && rep.repeat_flagged * 3 >= rep.frames_checked)) {
    rep.decision = "soft";
    return rep;
  }
  rep.decision = "none";
  const AVRational rate = reader.info().frame_rate;
  if (!near_rate(rate, {30000, 1001}) && !near_rate(rate, {30, 1})) return rep;
  const IdetCounts c = run_idet(reader, idet_runs, idet_frames);
  rep.idet_repeated = c.repeated_top + c.repeated_bottom;
  rep.idet_judged = rep.idet_repeated + c.repeated_neither;
  rep.idet_interlaced = c.tff + c.bff;
  rep.idet_progressive = c.progressive;
  // 3:2 pulldown repeats a field in 2 of 5 frames (40%), of which idet sees the repeat in
  // slow scenes only partly (24% on the sample film); interlaced video and progressive 30p
  // repeat none (a still scene repeats both fields, which idet counts as neither). Half of
  // 40% tells them apart.
  if (rep.idet_judged > 0 && rep.idet_repeated * 5 >= rep.idet_judged) rep.decision = "hard";
  return rep;
}

InterlaceReport detect_interlace(VideoReader& reader, int flag_frames, int idet_runs,
                                 int idet_frames) {
  InterlaceReport rep;
  av::FramePtr frame;
  reader.seek(0);
  for (int i = 0; i < flag_frames && reader.read(frame); ++i) {
    ++rep.frames_checked;
    if (frame->interlaced_frame) ++rep.flagged;
  }
  if (rep.frames_checked > 0 && rep.flagged * 2 > rep.frames_checked) {
    rep.decision = "flagged";
    return rep;
  }
  // Unflagged: let idet look at runs of consecutive frames spread over the film.
  const IdetCounts c = run_idet(reader, idet_runs, idet_frames);
  rep.idet_tff = c.tff;
  rep.idet_bff = c.bff;
  rep.idet_progressive = c.progressive;
  rep.idet_undetermined = c.undetermined;
  const int fields = rep.idet_tff + rep.idet_bff;
  const int judged = fields + rep.idet_progressive + rep.idet_undetermined;
  rep.decision = fields > 2 * rep.idet_progressive && fields * 4 >= judged && fields > 0
                     ? "detected"
                     : "progressive";
  return rep;
}

std::optional<CropRect> detect_crop(VideoReader& reader, int samples) {
  const VideoInfo& info = reader.info();
  const int64_t n = info.frame_count;
  samples = int(std::min<int64_t>(samples, n));
  const FilterInput input = filter_input_from(info);
  std::vector<int> top, bottom, left, right;
  av::FramePtr frame, out;
  for (int k = 0; k < samples; ++k) {
    const int64_t idx = (2 * int64_t(k) + 1) * n / (2 * int64_t(samples));
    reader.seek(idx);
    if (!reader.read(frame)) break;
    // A fresh graph per sample: cropdetect otherwise accumulates the largest area seen.
    FilterGraph detect("cropdetect=round=1:reset=0:skip=0", input);  // limit: 24/255
    detect.push(frame.get());
    detect.push(nullptr);
    if (!detect.pull(out)) continue;
    const int64_t x1 = meta_int(out.get(), "lavfi.cropdetect.x1", -1);
    const int64_t x2 = meta_int(out.get(), "lavfi.cropdetect.x2", -1);
    const int64_t y1 = meta_int(out.get(), "lavfi.cropdetect.y1", -1);
    const int64_t y2 = meta_int(out.get(), "lavfi.cropdetect.y2", -1);
    if (x1 < 0 || y1 < 0 || x2 < x1 || y2 < y1) continue;  // an all-black frame says nothing
    left.push_back(int(x1));
    right.push_back(int(info.width - 1 - x2));
    top.push_back(int(y1));
    bottom.push_back(int(info.height - 1 - y2));
  }
  if (top.empty()) return std::nullopt;
  // Dark scenes show thicker "bars" than there are; 90% of the frames must agree on a bar.
  auto agreed = [](std::vector<int>& v) {
    std::sort(v.begin(), v.end());
    return ceil_even(v[(v.size() - 1) / 10]);
  };
  const int t = agreed(top), b = agreed(bottom), l = agreed(left), r = agreed(right);
  if (t + b >= info.height || l + r >= info.width) return std::nullopt;
  CropRect c{info.width - l - r, info.height - t - b, l, t};
  c.width -= c.width & 1;
  c.height -= c.height & 1;
  if (c.width == info.width && c.height == info.height) return std::nullopt;
  return c;
}

nlohmann::json to_json(const PreprocessPlan& p) {
  nlohmann::json j = {{"filtergraph", p.filtergraph},
                      {"out_width", p.out_width},
                      {"out_height", p.out_height},
                      {"out_sar", {p.out_sar.num, p.out_sar.den}},
                      {"deinterlace", p.deinterlace},
                      {"colormatrix", p.colormatrix},
                      {"context_frames", p.context_frames},
                      {"map", {p.map_in, p.map_out}},
                      {"out_rate", {p.out_rate.num, p.out_rate.den}},
                      {"telecine", p.telecine},
                      {"source_kind", p.source_kind},
                      {"notes", p.notes}};
  j["crop"] = p.crop ? nlohmann::json(p.crop->to_string()) : nlohmann::json(nullptr);
  return j;
}

PreprocessPlan preprocess_plan_from_json(const nlohmann::json& j) {
  try {
    PreprocessPlan p;
    p.filtergraph = j.at("filtergraph").get<std::string>();
    p.out_width = j.at("out_width").get<int>();
    p.out_height = j.at("out_height").get<int>();
    p.out_sar = {j.at("out_sar").at(0).get<int>(), j.at("out_sar").at(1).get<int>()};
    p.deinterlace = j.at("deinterlace").get<std::string>();
    p.colormatrix = j.at("colormatrix").get<bool>();
    p.context_frames = j.at("context_frames").get<int>();
    p.notes = j.value("notes", std::vector<std::string>{});
    // Absent in plans from before the frame mapping: one frame per frame.
    if (j.contains("map")) {
      p.map_in = j.at("map").at(0).get<int>();
      p.map_out = j.at("map").at(1).get<int>();
    }
    if (j.contains("out_rate"))
      p.out_rate = {j.at("out_rate").at(0).get<int>(), j.at("out_rate").at(1).get<int>()};
    p.telecine = j.value("telecine", std::string("none"));
    p.source_kind = j.value("source_kind", std::string("film"));
    if (p.map_in < 1 || p.map_out < 1 || p.map_in > 5 || p.map_out > 5 ||
        p.context_frames % p.map_in != 0)
      throw Error("frame mapping " + std::to_string(p.map_in) + ":" + std::to_string(p.map_out) +
                  " with " + std::to_string(p.context_frames) + " context frames");
    if (!j.at("crop").is_null()) {
      CropRect c;
      if (std::sscanf(j.at("crop").get<std::string>().c_str(), "%d:%d:%d:%d", &c.width,
                      &c.height, &c.x, &c.y) != 4)
        throw Error("crop is not W:H:X:Y");
      p.crop = c;
    }
    if (p.filtergraph.empty() || p.out_width <= 0 || p.out_height <= 0 || p.context_frames < 0)
      throw Error("empty graph, size or context");
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed preprocess plan: ") + e.what());
  } catch (const Error& e) {
    throw Error(std::string("malformed preprocess plan: ") + e.what());
  }
}

FramePreprocessor::FramePreprocessor(const PreprocessPlan& plan, const VideoInfo& info,
                                     int threads)
    : graph_(plan.filtergraph, filter_input_from(info), AV_PIX_FMT_NONE, threads),
      in_time_base_(filter_input_from(info).time_base),
      path_(info.path),
      map_in_(plan.map_in),
      map_out_(plan.map_out) {
  if (graph_.out_width() != plan.out_width || graph_.out_height() != plan.out_height)
    throw MediaError(info.path + ": preprocess \"" + plan.filtergraph + "\" gives " +
                     std::to_string(graph_.out_width()) + "x" +
                     std::to_string(graph_.out_height()) + " here, the plan says " +
                     std::to_string(plan.out_width) + "x" + std::to_string(plan.out_height) +
                     " (a different source?)");
}

void FramePreprocessor::push(const AVFrame* frame, int64_t index) {
  if (map_in_ != map_out_) {
    // Counted, not matched by pts: the graph makes map_out frames of every map_in, from a
    // group start on (decimate's cycles count from the first frame it is given).
    if (next_out_ < 0) {
      if (index % map_in_ != 0)
        throw MediaError(path_ + ": preprocessing must start at a frame-mapping group (every " +
                         std::to_string(map_in_) + " frames), not at frame " +
                         std::to_string(index));
      next_out_ = index / map_in_ * map_out_;
    }
    graph_.push(frame);
    return;
  }
  if (!index_of_pts_.emplace(frame->pts, index).second)
    throw MediaError(path_ + ": frame " + std::to_string(index) +
                     " repeats the timestamp of another frame in flight");
  graph_.push(frame);
}

void FramePreprocessor::finish() { graph_.push(nullptr); }

bool FramePreprocessor::pull(av::FramePtr& frame, int64_t& index) {
  if (!graph_.pull(frame)) return false;
  if (map_in_ != map_out_) {
    index = next_out_++;
    frame->pts = index;  // the output frame's number (at the plan's out_rate)
    return true;
  }
  if (frame->pts != AV_NOPTS_VALUE)
    frame->pts = av_rescale_q(frame->pts, graph_.out_time_base(), in_time_base_);
  const auto it = index_of_pts_.find(frame->pts);
  if (it == index_of_pts_.end())
    throw MediaError(path_ + ": preprocess \"" + graph_.description() +
                     "\" made a frame at a timestamp no input had (it changes the frame rate; "
                     "a filtergraph must keep one output frame per input frame)");
  index = it->second;
  // Frames come out in order: anything older will not come out any more.
  index_of_pts_.erase(index_of_pts_.begin(), std::next(it));
  return true;
}

namespace {

config::Deinterlace decide_deinterlace(const config::Preprocess& cfg, VideoReader& reader,
                                       std::vector<std::string>& notes, bool& deint_all) {
  using config::Deinterlace;
  deint_all = true;
  if (cfg.deinterlace != Deinterlace::automatic) return cfg.deinterlace;
  const InterlaceReport rep = detect_interlace(reader);
  const std::string rate = cfg.deinterlace_rate == config::DeinterlaceRate::field ? " (one frame per field)" : "";
  if (rep.decision == "flagged") {
    deint_all = false;  // frames without the flag (film sections) pass untouched
    notes.push_back("deinterlace auto: " + std::to_string(rep.flagged) + " of " +
                    std::to_string(rep.frames_checked) +
                    " first frames are flagged interlaced -> bwdif on flagged frames" + rate);
    return Deinterlace::bwdif;
  }
  if (rep.decision == "detected") {
    notes.push_back("deinterlace auto: unflagged, but idet found " +
                    std::to_string(rep.idet_tff + rep.idet_bff) + " interlaced vs " +
                    std::to_string(rep.idet_progressive) + " progressive frames -> bwdif" + rate);
    return Deinterlace::bwdif;
  }
  notes.push_back("deinterlace auto: progressive (no flags; idet " +
                  std::to_string(rep.idet_tff + rep.idet_bff) + " interlaced vs " +
                  std::to_string(rep.idet_progressive) + " progressive)");
  return Deinterlace::off;
}

// none | soft | ivtc, with the evidence in `notes`.
config::Telecine decide_telecine(const config::Preprocess& cfg, VideoReader& reader,
                                 std::vector<std::string>& notes) {
  using config::Telecine;
  switch (cfg.telecine) {
    case Telecine::ivtc:
      notes.push_back("telecine ivtc (as configured): fieldmatch + decimate -> 23.976p");
      return cfg.telecine;
    case Telecine::soft:
      notes.push_back("telecine soft (as configured): the coded film frames at 23.976p");
      return cfg.telecine;
    case Telecine::none:
      return cfg.telecine;
    case Telecine::automatic:
      break;
  }
  const TelecineReport rep = detect_telecine(reader);
  if (rep.decision == "soft") {
    notes.push_back("telecine auto: soft telecine (" +
                    std::string(rep.pulldown_timing ? "3:2 field durations in the timestamps, "
                                                    : "") +
                    std::to_string(rep.repeat_flagged) + " of " +
                    std::to_string(rep.frames_checked) +
                    " first frames carry repeat_first_field) -> the coded film frames at "
                    "23.976p, flags ignored");
    return Telecine::soft;
  }
  if (rep.decision == "hard") {
    notes.push_back("telecine auto: hard telecine (idet: a repeated field in " +
                    std::to_string(rep.idet_repeated) + " of " +
                    std::to_string(rep.idet_judged) +
                    " frames, 3:2 pulldown repeats 2 in 5) -> inverse telecine "
                    "(fieldmatch + decimate) -> 23.976p");
    return Telecine::ivtc;
  }
  if (rep.idet_judged > 0)
    notes.push_back("telecine auto: no 3:2 pulldown (idet: a repeated field in " +
                    std::to_string(rep.idet_repeated) + " of " +
                    std::to_string(rep.idet_judged) + " frames)");
  return Telecine::none;
}

}  // namespace

PreprocessPlan plan_preprocess(const config::Preprocess& cfg, VideoReader& reader) {
  const VideoInfo& info = reader.info();
  std::vector<std::string> notes;
  config::Telecine telecine = config::Telecine::none;
  config::Deinterlace deint = config::Deinterlace::off;
  bool deint_all = true;
  if (cfg.filtergraph.empty()) {
    telecine = decide_telecine(cfg, reader, notes);
    if (telecine == config::Telecine::none) deint = decide_deinterlace(cfg, reader, notes, deint_all);
  }
  std::optional<CropRect> crop;
  if (!cfg.filtergraph.empty()) {
  } else if (cfg.crop == "auto") {
    crop = detect_crop(reader);
    notes.push_back(crop ? "crop auto: black bars -> " + crop->to_string()
                         : std::string("crop auto: no black bars found"));
  } else if (cfg.crop != "none" && !cfg.crop.empty()) {
    crop = parse_crop(cfg.crop, info);
  }
  reader.seek(0);
  PreprocessPlan plan = build_preprocess(cfg, info, deint, deint_all, crop, telecine);
  plan.notes.insert(plan.notes.begin(), notes.begin(), notes.end());
  for (const std::string& note : plan.notes) spdlog::info("{}: {}", info.path, note);
  spdlog::info("{}: preprocess \"{}\" -> {}x{} at {}/{} fps{}", info.path, plan.filtergraph,
               plan.out_width, plan.out_height, plan.out_rate.num, plan.out_rate.den,
               plan.renumbers() ? " (every " + std::to_string(plan.map_in) + " decoded frames give " +
                                      std::to_string(plan.map_out) + ")"
                                : std::string());
  return plan;
}

}  // namespace reelscale::media
