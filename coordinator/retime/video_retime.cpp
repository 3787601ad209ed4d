#include <algorithm>

#include "coordinator/retime/retime.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::retime {
namespace fs = std::filesystem;

namespace {

AVRational stream_rate(const media::InputFile& in, const AVStream* st, AVRational given) {
  if (given.num <= 0 || given.den <= 0) given = st->avg_frame_rate;
  if (given.num <= 0 || given.den <= 0) given = st->r_frame_rate;
  if (given.num <= 0 || given.den <= 0)
    throw MediaError(in.label() + ": the video stream declares no frame rate; pass the source rate");
  return given;
}

}  // namespace

VideoRetimeResult retime_video(const fs::path& in_path, const fs::path& out, AVRational target_fps,
                               AVRational source_fps) {
  const std::string label = in_path.string();
  if (target_fps.num <= 0 || target_fps.den <= 0) throw MediaError(label + ": invalid target frame rate");
  media::InputFile in(in_path);
  const int vs = in.first_stream(AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(label + " has no video stream");
  in.select_only(vs);
  const AVStream* ist = in.stream(vs);
  source_fps = stream_rate(in, ist, source_fps);
  const AVRational src_tb = av_inv_q(source_fps), dst_tb = av_inv_q(target_fps);

  media::OutputFile output(out);
  const int os = output.add_copy_stream(ist, dst_tb);
  output.set_frame_rate(os, target_fps);
  output.write_header();

  const auto rnd = static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
  const int64_t start = ist->start_time != AV_NOPTS_VALUE ? ist->start_time : 0;
  auto pkt = av::make_packet();
  int64_t frames = 0, last_index = -1;
  for (;;) {
    try {
      if (!in.read(pkt.get())) break;
    } catch (const MediaError& e) {
      throw MediaError(std::string(e.what()) + " (after " + std::to_string(frames) + " frames)");
    }
    if (pkt->pts == AV_NOPTS_VALUE)
      throw MediaError(label + ": video packet " + std::to_string(frames) + " has no timestamp");
    // Number the frame in the source rate, then show it at that index in the target rate.
    const int64_t index = av_rescale_q_rnd(pkt->pts - start, ist->time_base, src_tb, rnd);
    const int64_t dts_index =
        pkt->dts == AV_NOPTS_VALUE ? index : av_rescale_q_rnd(pkt->dts - start, ist->time_base, src_tb, rnd);
    last_index = std::max(last_index, index);
    pkt->pts = index;
    pkt->dts = dts_index;
    pkt->duration = 1;
    output.write(os, pkt.get(), "frame " + std::to_string(frames));
    ++frames;
  }
  if (frames == 0) throw MediaError(label + ": the video stream has no frames");
  if (last_index + 1 != frames)
    spdlog::warn("retime: {} has {} frames but its timestamps span {} (gaps or duplicates kept as they are)",
                 label, frames, last_index + 1);
  output.finish();

  VideoRetimeResult r;
  r.frames = frames;
  r.frame_rate = target_fps;
  r.duration_s = double(last_index + 1) * target_fps.den / target_fps.num;
  spdlog::info("retime: video {} frames {}/{} -> {}/{} fps, {:.3f} s -> {}", frames, source_fps.num,
               source_fps.den, target_fps.num, target_fps.den, r.duration_s, out.string());
  return r;
}

}  // namespace reelscale::retime
