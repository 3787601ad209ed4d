#include <algorithm>

#include "coordinator/retime/retime.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
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

namespace {

// The bitmap subtitle stream `stream_index` of `in`, or MediaError naming the file.
AVCodecID require_bitmap_stream(const media::InputFile& in, int stream_index) {
  const AVCodecID id = in.stream(stream_index)->codecpar->codec_id;
  if (in.stream(stream_index)->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE ||
      (id != AV_CODEC_ID_DVD_SUBTITLE && id != AV_CODEC_ID_HDMV_PGS_SUBTITLE && id != AV_CODEC_ID_DVB_SUBTITLE))
    throw MediaError(in.label() + ": stream #" + std::to_string(stream_index) +
                     " is not a bitmap subtitle stream (" + avcodec_get_name(id) + ")");
  return id;
}

}  // namespace

int64_t retime_bitmap_subtitles(const fs::path& in_path, int stream_index, const fs::path& out, Rational ratio) {
  const std::string label = in_path.string();
  media::InputFile in(in_path);
  const AVCodecID id = require_bitmap_stream(in, stream_index);
  const AVStream* ist = in.stream(stream_index);
  // Times are relative to the first video frame, as for the retimed video.
  int64_t zero = 0;
  const int vs = in.first_stream(AVMEDIA_TYPE_VIDEO);
  if (vs >= 0 && in.stream(vs)->start_time != AV_NOPTS_VALUE)
    zero = av_rescale_q(in.stream(vs)->start_time, in.stream(vs)->time_base, ist->time_base);
  in.select_only(stream_index);

  media::OutputFile output(out);
  const int os = output.add_copy_stream(ist, ist->time_base);
  output.set_disposition(os, ist->disposition);
  output.write_header();

  auto pkt = av::make_packet();
  int64_t n = 0, malformed = 0;
  while (in.read(pkt.get())) {
    if (pkt->pts == AV_NOPTS_VALUE) continue;
    if (id == AV_CODEC_ID_DVD_SUBTITLE) {
      av::check(av_packet_make_writable(pkt.get()), label + ": subtitle packet");
      if (!scale_dvdsub_dates(pkt->data, pkt->size, ratio)) ++malformed;
    }
    const int64_t pts = rescale_exact(pkt->pts - zero, ratio);
    if (pts < 0) continue;  // shown before the film starts
    pkt->pts = pkt->dts = pts;
    if (pkt->duration > 0) pkt->duration = rescale_exact(pkt->duration, ratio);
    output.write(os, pkt.get(), "subtitle packet " + std::to_string(n));
    ++n;
  }
  if (malformed) spdlog::warn("retime: {} malformed DVD subtitle packets in {} (their times inside kept)", malformed, label);
  output.finish();
  spdlog::info("retime: {} bitmap subtitle packets of {}#{} -> {}", n, label, stream_index, out.string());
  return n;
}

}  // namespace reelscale::retime
