#include <algorithm>

#include "coordinator/concat/stream_copy.hpp"
#include "coordinator/retime/retime.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::retime {
namespace fs = std::filesystem;

namespace {
uint32_t rb(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

bool scale_dvdsub_dates(uint8_t* buf, int size, Rational ratio) {
  // The layout libavcodec's dvdsubdec reads: a 2-byte size (0 = the HD variant with 4-byte
  // offsets), the offset of the first control sequence, then a chain of control sequences
  // that each start with a 2-byte date (units of 1024/90000 s) and the offset of the next.
  if (size < 10) return false;
  const bool big = rb(buf, 2) == 0;
  const int off = big ? 4 : 2;
  int64_t pos = big ? rb(buf + 6, 4) : rb(buf + 2, 2);
  for (int guard = 0; guard < 256 && pos > 0 && pos < size - 2 - off; ++guard) {
    const int64_t date = rb(buf + pos, 2);
    const int64_t next = rb(buf + pos + 2, off);
    const int64_t scaled = std::min<int64_t>(0xFFFF, rescale_exact(date, ratio));
    buf[pos] = static_cast<uint8_t>(scaled >> 8);
    buf[pos + 1] = static_cast<uint8_t>(scaled & 0xFF);
    if (next < pos) return false;
    if (next == pos) return true;
    pos = next;
  }
  return true;
}

int64_t retime_bitmap_subtitles(const fs::path& in_path, int stream_index, const fs::path& out, Rational ratio) {
  const std::string label = in_path.string(), out_label = out.string();
  auto in = av::open_input(label);
  if (stream_index < 0 || stream_index >= static_cast<int>(in->nb_streams))
    throw MediaError(label + ": no stream #" + std::to_string(stream_index) + " (the file has " +
                     std::to_string(in->nb_streams) + " streams)");
  AVStream* ist = in->streams[stream_index];
  const AVCodecID id = ist->codecpar->codec_id;
  if (ist->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE ||
      (id != AV_CODEC_ID_DVD_SUBTITLE && id != AV_CODEC_ID_HDMV_PGS_SUBTITLE && id != AV_CODEC_ID_DVB_SUBTITLE))
    throw MediaError(label + ": stream #" + std::to_string(stream_index) + " is not a bitmap subtitle stream (" +
                     avcodec_get_name(id) + ")");
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (static_cast<int>(i) != stream_index) in->streams[i]->discard = AVDISCARD_ALL;

  // Times are relative to the first video frame, as for the retimed video.
  int64_t zero = 0;
  const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs >= 0 && in->streams[vs]->start_time != AV_NOPTS_VALUE)
    zero = av_rescale_q(in->streams[vs]->start_time, in->streams[vs]->time_base, ist->time_base);

  AtomicOutput atomic(out);
  auto octx = assemble::make_output(assemble::muxer_for(out), out_label);
  AVStream* ost = assemble::add_copy_stream(octx.get(), ist->codecpar, out_label);
  assemble::copy_stream_tags(ist, ost);
  ost->disposition = ist->disposition;
  ost->time_base = ist->time_base;
  assemble::open_and_write_header(octx.get(), atomic.temp_path(), out_label);

  auto pkt = av::make_packet();
  int64_t n = 0, malformed = 0;
  for (;;) {
    const int rc = av_read_frame(in.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(label + ": read error: " + av::error_string(rc));
    if (pkt->stream_index != stream_index || pkt->pts == AV_NOPTS_VALUE) {
      av_packet_unref(pkt.get());
      continue;
    }
    if (id == AV_CODEC_ID_DVD_SUBTITLE) {
      av::check(av_packet_make_writable(pkt.get()), label + ": subtitle packet");
      if (!scale_dvdsub_dates(pkt->data, pkt->size, ratio)) ++malformed;
    }
    const int64_t pts = rescale_exact(pkt->pts - zero, ratio);
    if (pts < 0) {  // shown before the film starts
      av_packet_unref(pkt.get());
      continue;
    }
    pkt->pts = pkt->dts = pts;
    if (pkt->duration > 0) pkt->duration = rescale_exact(pkt->duration, ratio);
    av_packet_rescale_ts(pkt.get(), ist->time_base, ost->time_base);
    pkt->stream_index = 0;
    pkt->pos = -1;
    const int wrc = av_interleaved_write_frame(octx.get(), pkt.get());
    if (wrc < 0) throw MediaError(out_label + ": cannot write subtitle packet: " + av::error_string(wrc));
    ++n;
  }
  if (malformed) spdlog::warn("retime: {} malformed DVD subtitle packets in {} (their times inside kept)", malformed, label);
  assemble::finish_output(octx.get(), out_label);
  octx.reset();
  atomic.commit();
  spdlog::info("retime: {} bitmap subtitle packets of {}#{} -> {}", n, label, stream_index, out_label);
  return n;
}

}  // namespace reelscale::retime
