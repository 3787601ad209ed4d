#include "coordinator/subtitles/bitmap_events.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "shared/media/av_raii.hpp"
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

}  // namespace

ExtractResult extract_bitmap_events(const std::filesystem::path& file, int stream_index) {
  auto fmt = av::open_input(file.string());
  if (stream_index < 0) {
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (is_bitmap_codec(fmt->streams[i]->codecpar->codec_id)) {
        stream_index = int(i);
        break;
      }
    if (stream_index < 0) throw MediaError(file.string() + ": no bitmap subtitle stream");
  }
  if (stream_index >= int(fmt->nb_streams))
    throw MediaError(file.string() + ": no stream " + std::to_string(stream_index));
  AVStream* st = fmt->streams[stream_index];
  if (!is_bitmap_codec(st->codecpar->codec_id))
    throw MediaError(file.string() + ": stream " + std::to_string(stream_index) + " is " +
                     avcodec_get_name(st->codecpar->codec_id) + ", not a bitmap subtitle stream");

  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) throw MediaError(file.string() + ": no decoder for " + avcodec_get_name(st->codecpar->codec_id));
  auto ctx = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(ctx.get(), st->codecpar), file.string() + ": subtitle parameters");
  ctx->pkt_timebase = st->time_base;
  av::check(avcodec_open2(ctx.get(), codec, nullptr), file.string() + ": cannot open the subtitle decoder");

  ExtractResult result;
  result.stream_index = stream_index;
  result.codec = codec->name;
  if (const AVDictionaryEntry* e = av_dict_get(st->metadata, "language", nullptr, 0)) result.language = e->value;
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (int(i) != stream_index) fmt->streams[i]->discard = AVDISCARD_ALL;

  // Times count from the start of the file (its first frame), as the video's frame times do:
  // a VOB cut from a disc starts at an arbitrary clock value.
  const int64_t origin_ms = fmt->start_time == AV_NOPTS_VALUE ? 0 : av_rescale_q(fmt->start_time, AV_TIME_BASE_Q, {1, 1000});

  // Events whose end the decoder did not know are closed by the next event (DVD subtitles
  // usually carry a stop date; PGS closes with an empty "clear" object).
  std::vector<bool> open_end;
  auto pkt = av::make_packet();
  const AVRational ms{1, 1000};
  for (;;) {
    const int rc = av_read_frame(fmt.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) {
      result.warnings.push_back("read error after " + std::to_string(result.events.size()) +
                                " events: " + av::error_string(rc) + "; keeping what was read");
      break;
    }
    if (pkt->stream_index != stream_index) {
      av_packet_unref(pkt.get());
      continue;
    }
    const int64_t pts_ms = pkt->pts == AV_NOPTS_VALUE ? (pkt->dts == AV_NOPTS_VALUE ? -1 : av_rescale_q(pkt->dts, st->time_base, ms))
                                                      : av_rescale_q(pkt->pts, st->time_base, ms);
    const int64_t pkt_duration_ms = pkt->duration > 0 ? av_rescale_q(pkt->duration, st->time_base, ms) : 0;
    AVSubtitle sub;
    std::memset(&sub, 0, sizeof sub);
    int got = 0;
    const int drc = avcodec_decode_subtitle2(ctx.get(), &sub, &got, pkt.get());
    av_packet_unref(pkt.get());
    if (drc < 0) {
      result.warnings.push_back("undecodable subtitle packet at " + ms_text(std::max<int64_t>(0, pts_ms)) + ": " +
                                av::error_string(drc) + " (skipped)");
      continue;
    }
    if (!got) continue;
    std::unique_ptr<AVSubtitle, void (*)(AVSubtitle*)> guard(&sub, [](AVSubtitle* s) { avsubtitle_free(s); });
    if (pts_ms < 0) {
      result.warnings.push_back("subtitle without a timestamp after event " + std::to_string(result.events.size()) + " (skipped)");
      continue;
    }
    const int64_t start = pts_ms - origin_ms + sub.start_display_time;
    // A "clear" (no rects) ends the previous event.
    if (sub.num_rects == 0) {
      if (!result.events.empty() && open_end.back()) {
        result.events.back().end_ms = std::max(result.events.back().start_ms, start);
        open_end.back() = false;
      }
      continue;
    }
    if (!result.events.empty() && open_end.back()) {
      result.events.back().end_ms = std::max(result.events.back().start_ms, start);
      open_end.back() = false;
    }
    BitmapEvent ev;
    ev.start_ms = start;
    const bool end_known = sub.end_display_time > sub.start_display_time &&
                           sub.end_display_time != std::numeric_limits<uint32_t>::max();
    // DVD stop dates tick in 1024/90000 s (11.4 ms); a container's duration (MKV) is usually the
    // exact value the date was rounded from, so it wins when the two agree to within one tick.
    const int64_t date_end = pts_ms - origin_ms + int64_t(sub.end_display_time);
    const int64_t container_end = pts_ms - origin_ms + pkt_duration_ms;
    if (end_known)
      ev.end_ms = (pkt_duration_ms > 0 && std::llabs(container_end - date_end) <= 12) ? container_end : date_end;
    else
      ev.end_ms = pkt_duration_ms > 0 ? container_end : start;
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
        result.warnings.push_back("subtitle at " + ms_text(start) + " has no palette (skipped)");
        continue;
      }
      std::memcpy(br.palette.data(), rect->data[1], size_t(colours) * 4);
      ev.rects.push_back(std::move(br));
    }
    if (ev.rects.empty()) {
      result.warnings.push_back("empty subtitle bitmap at " + ms_text(start) + " (skipped)");
      continue;
    }
    result.events.push_back(std::move(ev));
    open_end.push_back(!end_known && pkt_duration_ms <= 0);
  }
  // Still open at the end: until the stream (or file) ends.
  if (!result.events.empty() && open_end.back()) {
    int64_t end = fmt->duration > 0 ? av_rescale_q(fmt->duration, AV_TIME_BASE_Q, ms) : 0;
    result.events.back().end_ms = std::max(result.events.back().start_ms + 1, end);
  }
  for (const auto& w : result.warnings) spdlog::warn("{}: {}", file.string(), w);
  return result;
}

}  // namespace reelscale::subtitles
