#include <algorithm>

#include "coordinator/concat/stream_copy.hpp"
#include "coordinator/retime/retime.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::retime {
namespace fs = std::filesystem;

VideoRetimeResult retime_video(const fs::path& in_path, const fs::path& out, AVRational target_fps,
                               AVRational source_fps) {
  const std::string label = in_path.string();
  if (target_fps.num <= 0 || target_fps.den <= 0) throw MediaError(label + ": invalid target frame rate");
  auto in = av::open_input(label);
  const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(label + " has no video stream");
  AVStream* ist = in->streams[vs];
  if (source_fps.num <= 0 || source_fps.den <= 0) source_fps = ist->avg_frame_rate;
  if (source_fps.num <= 0 || source_fps.den <= 0) source_fps = ist->r_frame_rate;
  if (source_fps.num <= 0 || source_fps.den <= 0)
    throw MediaError(label + ": the video stream declares no frame rate; pass the source rate");
  const AVRational src_tb = av_inv_q(source_fps), dst_tb = av_inv_q(target_fps);

  AtomicOutput atomic(out);
  const std::string out_label = out.string();
  auto octx = assemble::make_output(assemble::muxer_for(out), out_label);
  AVStream* ost = assemble::add_copy_stream(octx.get(), ist->codecpar, out_label);
  assemble::copy_stream_tags(ist, ost);
  ost->time_base = dst_tb;
  ost->avg_frame_rate = target_fps;
  ost->r_frame_rate = target_fps;
  assemble::open_and_write_header(octx.get(), atomic.temp_path(), out_label);

  const auto rnd = static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
  const int64_t start = ist->start_time != AV_NOPTS_VALUE ? ist->start_time : 0;
  auto pkt = av::make_packet();
  int64_t frames = 0, last_index = -1;
  for (;;) {
    const int rc = av_read_frame(in.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(label + ": read error after " + std::to_string(frames) + " frames: " + av::error_string(rc));
    if (pkt->stream_index != vs) {
      av_packet_unref(pkt.get());
      continue;
    }
    if (pkt->pts == AV_NOPTS_VALUE)
      throw MediaError(label + ": video packet " + std::to_string(frames) + " has no timestamp");
    // Number the frame in the source rate, then show it at that index in the target rate.
    const int64_t index = av_rescale_q_rnd(pkt->pts - start, ist->time_base, src_tb, rnd);
    const int64_t dts_index =
        pkt->dts == AV_NOPTS_VALUE ? index : av_rescale_q_rnd(pkt->dts - start, ist->time_base, src_tb, rnd);
    last_index = std::max(last_index, index);
    pkt->stream_index = 0;
    pkt->pts = av_rescale_q(index, dst_tb, ost->time_base);
    pkt->dts = av_rescale_q(dts_index, dst_tb, ost->time_base);
    pkt->duration = av_rescale_q(1, dst_tb, ost->time_base);
    pkt->pos = -1;
    const int wrc = av_interleaved_write_frame(octx.get(), pkt.get());
    if (wrc < 0) throw MediaError(out_label + ": cannot write frame " + std::to_string(frames) + ": " + av::error_string(wrc));
    ++frames;
  }
  if (frames == 0) throw MediaError(label + ": the video stream has no frames");
  if (last_index + 1 != frames)
    spdlog::warn("retime: {} has {} frames but its timestamps span {} (gaps or duplicates kept as they are)",
                 label, frames, last_index + 1);
  assemble::finish_output(octx.get(), out_label);
  octx.reset();
  atomic.commit();

  VideoRetimeResult r;
  r.frames = frames;
  r.frame_rate = target_fps;
  r.duration_s = double(last_index + 1) * target_fps.den / target_fps.num;
  spdlog::info("retime: video {} frames {}/{} -> {}/{} fps, {:.3f} s -> {}", frames, source_fps.num,
               source_fps.den, target_fps.num, target_fps.den, r.duration_s, out.string());
  return r;
}

}  // namespace reelscale::retime
