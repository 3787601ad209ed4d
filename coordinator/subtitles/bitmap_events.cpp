#include "coordinator/subtitles/bitmap_events.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <cstring>
#include <limits>
#include <memory>

#include "shared/media/input_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::subtitles {
namespace {

bool is_bitmap_codec(AVCodecID id) {
  return id == AV_CODEC_ID_DVD_SUBTITLE || id == AV_CODEC_ID_HDMV_PGS_SUBTITLE ||
         id == AV_CODEC_ID_DVB_SUBTITLE;
}

std::string ms_text(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
                (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
  return buf;
}

// The bitmap subtitle stream asked for (-1: the first), or MediaError naming the file.
int pick_bitmap_stream(const media::InputFile& in, int stream_index) {
  const std::string file = in.label();
  if (stream_index < 0) {
    for (int i = 0; i < in.stream_count(); ++i)
      if (is_bitmap_codec(in.stream(i)->codecpar->codec_id)) return i;
    throw MediaError(file + ": no bitmap subtitle stream");
  }
  if (stream_index >= in.stream_count()) throw MediaError(file + ": no stream " + std::to_string(stream_index));
  const AVCodecID id = in.stream(stream_index)->codecpar->codec_id;
  if (!is_bitmap_codec(id))
    throw MediaError(file + ": stream " + std::to_string(stream_index) + " is " + avcodec_get_name(id) +
                     ", not a bitmap subtitle stream");
  return stream_index;
}

// The bitmaps of one decoded subtitle into `ev`; warnings for rects without a palette.
void copy_rects(const AVSubtitle& sub, BitmapEvent& ev, std::vector<std::string>& warnings) {
  for (unsigned r = 0; r < sub.num_rects; ++r) {
    const AVSubtitleRect* rect = sub.rects[r];
    if (rect->type != SUBTITLE_BITMAP || rect->w <= 0 || rect->h <= 0 || !rect->data[0]) continue;
    if (rect->flags & AV_SUBTITLE_FLAG_FORCED) ev.forced = true;
    BitmapRect br;
    br.x = rect->x, br.y = rect->y, br.w = rect->w, br.h = rect->h;
    br.indices.resize(size_t(rect->w) * rect->h);
    for (int y = 0; y < rect->h; ++y)
      std::memcpy(&br.indices[size_t(y) * rect->w], rect->data[0] + size_t(y) * rect->linesize[0], size_t(rect->w));
    const int colours = std::min(rect->nb_colors, 256);
    if (!rect->data[1] || colours <= 0) {
      warnings.push_back("subtitle at " + ms_text(ev.start_ms) + " has no palette (skipped)");
      continue;
    }
    std::memcpy(br.palette.data(), rect->data[1], size_t(colours) * 4);
    ev.rects.push_back(std::move(br));
  }
}

// Collects the events of one stream. Times count from the start of the file (its first frame),
// as the video's frame times do: a VOB cut from a disc starts at an arbitrary clock value.
// Events whose end the decoder did not know are closed by the next event (DVD subtitles
// usually carry a stop date; PGS closes with an empty "clear" object).
class EventCollector {
 public:
  EventCollector(const media::InputFile& in, int stream, ExtractResult& result)
      : tb_(in.stream(stream)->time_base), result_(result) {
    // A file with a picture starts where its first frame does; a subtitle-only file (PGS .sup,
    // VobSub .idx/.sub) carries the film's own times, and its start is merely its first subtitle.
    if (in.first_stream(AVMEDIA_TYPE_VIDEO) >= 0 && in.start_time() != AV_NOPTS_VALUE)
      origin_ms_ = av_rescale_q(in.start_time(), AV_TIME_BASE_Q, kMs);
  }

  // One packet decoded into `sub` (got: the decoder gave a subtitle).
  void add(const AVPacket* pkt, AVSubtitle& sub, int decode_rc, bool got) {
    const int64_t pts_ms = pkt->pts == AV_NOPTS_VALUE
                               ? (pkt->dts == AV_NOPTS_VALUE ? -1 : av_rescale_q(pkt->dts, tb_, kMs))
                               : av_rescale_q(pkt->pts, tb_, kMs);
    const int64_t pkt_duration_ms = pkt->duration > 0 ? av_rescale_q(pkt->duration, tb_, kMs) : 0;
    ++packets_;
    if (decode_rc < 0) {
      ++undecodable_;
      result_.warnings.push_back("undecodable subtitle packet at " + ms_text(std::max<int64_t>(0, pts_ms)) + ": " +
                                 av::error_string(decode_rc) + " (skipped)");
      return;
    }
    if (!got) return;
    ++decoded_;
    if (pts_ms < 0) {
      result_.warnings.push_back("subtitle without a timestamp after event " + std::to_string(result_.events.size()) +
                                 " (skipped)");
      return;
    }
    const int64_t start = pts_ms - origin_ms_ + sub.start_display_time;
    close_open_event(start);
    if (sub.num_rects == 0) return;  // a "clear" only ends the previous event
    BitmapEvent ev;
    ev.start_ms = start;
    const bool end_known = sub.end_display_time > sub.start_display_time &&
                           sub.end_display_time != std::numeric_limits<uint32_t>::max();
    // DVD stop dates tick in 1024/90000 s (11.4 ms); a container's duration (MKV) is usually the
    // exact value the date was rounded from, so it wins when the two agree to within one tick.
    const int64_t date_end = pts_ms - origin_ms_ + int64_t(sub.end_display_time);
    const int64_t container_end = pts_ms - origin_ms_ + pkt_duration_ms;
    if (end_known)
      ev.end_ms = (pkt_duration_ms > 0 && std::llabs(container_end - date_end) <= 12) ? container_end : date_end;
    else
      ev.end_ms = pkt_duration_ms > 0 ? container_end : start;
    copy_rects(sub, ev, result_.warnings);
    if (ev.rects.empty()) {
      result_.warnings.push_back("empty subtitle bitmap at " + ms_text(start) + " (skipped)");
      return;
    }
    result_.events.push_back(std::move(ev));
    open_end_.push_back(!end_known && pkt_duration_ms <= 0);
  }

  // Still open at the end: until the stream (or file) ends. A stream whose packets all fail
  // to decode (libavcodec's dvdsub decoder drops garbage silently) is corrupt: MediaError, not
  // an empty SRT. One without packets is only warned of.
  void finish(int64_t file_duration, const std::string& file) {
    if (packets_ > 0 && decoded_ == 0)
      throw MediaError(file + ": subtitle stream " + std::to_string(result_.stream_index) +
                       ": no subtitle could be read: none of its " + std::to_string(packets_) +
                       " packets decodes to a subtitle (" + std::to_string(undecodable_) +
                       " decoder errors): corrupt subtitle data");
    if (packets_ == 0)
      result_.warnings.push_back("subtitle stream " + std::to_string(result_.stream_index) + " has no packets (empty)");
    if (result_.events.empty() || !open_end_.back()) return;
    const int64_t end = file_duration > 0 ? av_rescale_q(file_duration, AV_TIME_BASE_Q, kMs) : 0;
    result_.events.back().end_ms = std::max(result_.events.back().start_ms + 1, end);
  }

 private:
  static constexpr AVRational kMs{1, 1000};
  void close_open_event(int64_t at) {
    if (result_.events.empty() || !open_end_.back()) return;
    result_.events.back().end_ms = std::max(result_.events.back().start_ms, at);
    open_end_.back() = false;
  }
  AVRational tb_;
  ExtractResult& result_;
  int64_t origin_ms_ = 0;
  int64_t packets_ = 0, undecodable_ = 0, decoded_ = 0;
  std::vector<bool> open_end_;
};

// "forced subs: ON" in a VobSub .idx: players then show only the subpictures flagged forced.
bool idx_says_forced_only(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".idx") return false;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    for (char& c : line) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (line.rfind("forced subs:", 0) == 0) return line.find("on") != std::string::npos;
  }
  return false;
}

// Honours "forced subs: ON": the flagged events are kept, the others dropped (with a warning);
// where none is flagged, the author meant the whole track, so all are kept and flagged.
void keep_forced_only(ExtractResult& result) {
  const auto forced = std::count_if(result.events.begin(), result.events.end(), [](auto& e) { return e.forced; });
  if (forced == 0) {
    for (auto& e : result.events) e.forced = true;
    return;
  }
  const size_t dropped = result.events.size() - size_t(forced);
  result.events.erase(std::remove_if(result.events.begin(), result.events.end(), [](auto& e) { return !e.forced; }),
                      result.events.end());
  if (dropped > 0)
    result.warnings.push_back("the .idx says \"forced subs: ON\": " + std::to_string(dropped) +
                              " subtitles not flagged forced left out");
}

}  // namespace

ExtractResult extract_bitmap_events(const std::filesystem::path& file, int stream_index) {
  media::InputFile in(file);
  stream_index = pick_bitmap_stream(in, stream_index);
  media::StreamDecoder dec(in, stream_index);
  ExtractResult result;
  result.stream_index = stream_index;
  result.codec = dec.context()->codec->name;
  result.language = in.stream_tag(stream_index, "language");
  in.select_only(stream_index);
  EventCollector events(in, stream_index, result);
  auto pkt = av::make_packet();
  for (;;) {
    try {
      if (!in.read(pkt.get())) break;
    } catch (const MediaError& e) {
      result.warnings.push_back("read error after " + std::to_string(result.events.size()) + " events: " + e.what() +
                                "; keeping what was read");
      break;
    }
    AVSubtitle sub;
    std::memset(&sub, 0, sizeof sub);
    int got = 0;
    const int rc = avcodec_decode_subtitle2(dec.context(), &sub, &got, pkt.get());
    std::unique_ptr<AVSubtitle, void (*)(AVSubtitle*)> guard(got ? &sub : nullptr,
                                                            [](AVSubtitle* s) { avsubtitle_free(s); });
    events.add(pkt.get(), sub, rc, got != 0 && rc >= 0);
  }
  events.finish(in.duration(), file.string());
  if (idx_says_forced_only(file)) keep_forced_only(result);
  for (const auto& w : result.warnings) spdlog::warn("{}: {}", file.string(), w);
  return result;
}

}  // namespace reelscale::subtitles
