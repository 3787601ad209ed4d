#include "shared/media/video_reader.hpp"

#include <algorithm>
#include <cstring>

#include "shared/media/truncation.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::media {
namespace {

// How many further keyframes back a seek tries when its landing frame is wrong (an open GOP
// whose pictures reference the previous one) before decoding from the start.
constexpr int kMaxSeekRetries = 3;

// Packets the reader numbers: the same filter the index applied.
bool indexed(const AVPacket* p, int stream) {
  return p->stream_index == stream && p->size > 0 && !(p->flags & AV_PKT_FLAG_DISCARD);
}

}  // namespace

struct VideoReader::Impl {
  std::string path;
  VideoReaderOptions options;
  VideoInfo info;
  FrameIndex index;
  av::InputFormatPtr fmt;
  av::CodecContextPtr dec;
  av::PacketPtr pkt = av::make_packet();
  av::PacketPtr pending = av::make_packet();  // a packet read ahead (the seek's keyframe)
  bool has_pending = false;
  av::FramePtr tmp = av::make_frame();
  bool byte_seek = false;

  int64_t next_decode = 0;  // decode index of the next packet the demuxer yields
  int64_t pos = 0;          // presentation index the next read() returns
  int64_t last_out = -1;    // presentation index of the last frame out of the decoder
  bool demux_done = false;  // the decoder has been sent its end-of-stream
  bool verify = false;      // the next frame >= pos is a seek's landing: check it
  int64_t seek_target = 0;
  int seek_attempt = 0;
  bool warned_short = false;
  bool starting = false;    // check_start() is decoding the first frames
  bool tail_check = false;  // check_tail() is decoding the last GOPs
  int64_t tail_bad = -1;    // first frame of the tail that is missing or concealed

  // Constant-rate view of a VFR source (convert_vfr): output frame -> source frame.
  std::vector<int64_t> cfr_map;
  int64_t out_pos = 0;
  av::FramePtr held;        // the source frame last read, repeated while the map says so
  int64_t held_src = -1;
  double out_ticks = 0;     // output frame duration in the stream's time base

  void open_demuxer() {
    fmt = av::open_input(path);
    if (index.stream_index >= int(fmt->nb_streams))
      throw MediaError(path + ": the video stream disappeared on reopening");
    next_decode = 0;
    has_pending = false;
    demux_done = false;
  }

  // The next indexed packet of our stream into `out`; false at the end of the file (or at a
  // read error: a truncated file ends there).
  bool read_video_packet(AVPacket* out) {
    for (;;) {
      av_packet_unref(out);
      const int rc = av_read_frame(fmt.get(), out);
      if (rc < 0) {
        if (rc != AVERROR_EOF)
          spdlog::debug("{}: reading stopped: {}", path, av::error_string(rc));
        return false;
      }
      if (indexed(out, index.stream_index)) return true;
    }
  }

  // Sends the next packet to the decoder (or the end of stream); false once nothing is left.
  bool feed() {
    if (demux_done) return false;
    for (;;) {
      bool have;
      if (has_pending) {
        av_packet_unref(pkt.get());
        av_packet_move_ref(pkt.get(), pending.get());
        has_pending = false;
        have = true;
      } else {
        have = read_video_packet(pkt.get());
      }
      const int64_t d = next_decode;
      if (!have || d >= int64_t(index.packets.size())) {
        avcodec_send_packet(dec.get(), nullptr);
        demux_done = true;
        return false;
      }
      ++next_decode;
      if (d < index.first_used_packet()) continue;  // nothing decodes before the first keyframe
      const PacketEntry& e = index.packets[size_t(d)];
      // The decoder carries a packet's pts to the picture it holds, so feeding the index's
      // timestamps numbers every frame exactly even where the container's are odd or missing.
      // Packets that are no frame of ours get distinct timestamps no frame has.
      pkt->pts = e.frame >= 0 ? e.ts : INT64_MIN / 2 + d;
      pkt->dts = AV_NOPTS_VALUE;
      const int rc = avcodec_send_packet(dec.get(), pkt.get());
      if (rc < 0 && rc != AVERROR(EAGAIN))
        spdlog::warn("{}: damaged video packet {} (pts {}): {}", path, d, e.ts,
                     av::error_string(rc));
      return true;
    }
  }

  // Positions the demuxer so that the next packet fed is decode index k (a keyframe).
  void position_at(int64_t k) {
    avcodec_flush_buffers(dec.get());
    demux_done = false;
    has_pending = false;
    last_out = -1;
    if (k > index.first_used_packet()) {
      if (seek_to_packet(fmt.get(), index, k, byte_seek, pending.get(),
                         [this](AVPacket* p) { return read_video_packet(p); })) {
        has_pending = true;
        next_decode = k;
        return;
      }
      spdlog::debug("{}: container seek to packet {} missed; reading from the start", path, k);
    }
    // Exact by construction: from the start, packets are counted as the index counted them.
    open_demuxer();
    while (next_decode < k) {
      if (!read_video_packet(pkt.get()))
        throw MediaError(path + ": the file ended before video packet " + std::to_string(k) +
                         " on re-reading (did it change?)");
      ++next_decode;
    }
  }

  // A seek's landing frame was wrong: start from an earlier keyframe. False when there is none.
  bool retry_seek() {
    ++seek_attempt;
    int64_t k = seek_attempt <= kMaxSeekRetries ? index.keyframe_for(seek_target, seek_attempt)
                                                : -1;
    if (k < 0) {
      if (seek_attempt > kMaxSeekRetries + 1) return false;
      seek_attempt = kMaxSeekRetries + 1;
      k = index.first_used_packet();
    }
    spdlog::debug("{}: seek to frame {} landed wrong; retrying from packet {}", path,
                  seek_target, k);
    position_at(k);
    pos = seek_target;
    return true;
  }

  bool read_source(av::FramePtr& out) {
    for (;;) {
      const int rc = avcodec_receive_frame(dec.get(), tmp.get());
      if (rc == AVERROR(EAGAIN)) {
        feed();
        continue;
      }
      if (rc == AVERROR_EOF) {
        if (verify && retry_seek()) continue;
        if (pos < index.frame_count() && !warned_short) {
          warned_short = true;
          spdlog::warn("{}: video ends after frame {} of {} (truncated or damaged file)", path,
                       pos, index.frame_count());
        }
        return false;
      }
      if (rc < 0)
        throw MediaError(path + ": decoding video frame " + std::to_string(pos) + ": " +
                         av::error_string(rc));
      int64_t p = tmp->pts == AV_NOPTS_VALUE ? last_out + 1 : index.frame_of_ts(tmp->pts);
      if (p < 0) {  // a picture we do not number (leading picture of an open GOP)
        av_frame_unref(tmp.get());
        continue;
      }
      last_out = p;
      if (p < pos) {
        av_frame_unref(tmp.get());
        continue;
      }
      if (verify) {
        const bool corrupt = (tmp->flags & AV_FRAME_FLAG_CORRUPT) || tmp->decode_error_flags;
        if ((p != pos || corrupt) && retry_seek()) {
          av_frame_unref(tmp.get());
          continue;
        }
        verify = false;
      }
      if (p > pos && starting && pos == 0) {
        // The decoder does not show the first pictures (e.g. H.264 before a recovery point):
        // they are no frames of ours, in sequential and random access alike.
        spdlog::warn("{}: the first {} frame(s) cannot be decoded from the start of the file; "
                     "skipping them",
                     path, p);
        index.drop_leading_frames(p);
        info.frame_count = index.frame_count();
        p = 0;
      }
      if (tail_check) {
        const bool damaged = tmp->decode_error_flags || (tmp->flags & AV_FRAME_FLAG_CORRUPT);
        if ((p > pos || damaged) && tail_bad < 0) tail_bad = p > pos ? pos : p;
        pos = p;
      }
      if (p > pos)
        throw MediaError(path + ": video frame " + std::to_string(pos) +
                         " cannot be decoded (the decoder skipped to frame " + std::to_string(p) +
                         "; damaged data?)");
      if (tmp->interlaced_frame) info.interlaced_flagged = true;
      if (!out) out = av::make_frame();
      av_frame_unref(out.get());
      av_frame_move_ref(out.get(), tmp.get());
      pos = p + 1;
      return true;
    }
  }

  bool read(av::FramePtr& out);
  void seek(int64_t i);

  // Decodes the first frames once: the decoder must give the index's frames in order (this
  // finds pictures it never shows from the start, and streams whose packets are not one
  // picture each), then rewinds.
  void check_start() {
    starting = true;
    av::FramePtr f;
    const int64_t want = std::min<int64_t>(index.frame_count(), 4);
    for (int64_t i = 0; i < want; ++i)
      if (!read_source(f)) break;
    starting = false;
    if (index.frame_count() == 0) throw MediaError(path + ": no decodable video frames");
    if (pos != 0) {
      position_at(index.first_used_packet());
      pos = 0;
      verify = false;
    }
  }

  // Program streams end wherever the copy stopped: a cut-off last picture decodes as a
  // concealed one (differently after a seek than in sequence). Decoding the last two GOPs
  // once finds the first missing or concealed frame of the tail; it and all after it are
  // dropped from the numbering. Other containers drop incomplete packets themselves.
  void check_tail() {
    const int64_t n = index.frame_count();
    int64_t k = index.keyframe_for(n - 1, 1);
    if (k < 0) k = index.first_used_packet();
    const int64_t from = std::max<int64_t>(0, index.packets[size_t(k)].frame);
    seek_source(from);
    verify = false;  // the landing is a whole GOP's keyframe; gaps are what we look for
    tail_check = true;
    tail_bad = -1;
    av::FramePtr f;
    while (read_source(f)) {
    }
    tail_check = false;
    if (tail_bad < 0 && pos < n) tail_bad = pos;  // frames that never came out
    if (tail_bad >= 0 && tail_bad < n) {
      spdlog::warn("{}: the last {} frame(s) are cut off or damaged (truncated file?); the "
                   "video ends at frame {}",
                   path, n - tail_bad, tail_bad);
      index.drop_trailing_frames(n - tail_bad);
      info.frame_count = index.frame_count();
      if (index.frame_count() == 0) throw MediaError(path + ": no decodable video frames");
    }
    position_at(index.first_used_packet());
    pos = 0;
    verify = false;
    warned_short = false;
  }

  void seek_source(int64_t i) {
    if (i < 0 || i >= index.frame_count())
      throw MediaError(path + ": frame " + std::to_string(i) + " is out of range (the video has " +
                       std::to_string(index.frame_count()) + " frames)");
    int64_t k = index.keyframe_for(i);
    if (k < 0) k = index.first_used_packet();
    // Decoding on from here is exact too, and cheaper when the keyframe a seek would start at
    // has already been passed.
    if (i >= pos && k < next_decode && !demux_done) {
      pos = i;
      return;
    }
    seek_target = i;
    seek_attempt = 0;
    position_at(k);
    pos = i;
    verify = true;
  }
};

// The public view: the source's frames, or their constant-rate mapping.
bool VideoReader::Impl::read(av::FramePtr& out) {
  if (cfr_map.empty()) return read_source(out);
  if (out_pos >= int64_t(cfr_map.size())) return false;
  const int64_t s = cfr_map[size_t(out_pos)];
  if (held_src != s) {
    if (pos != s) seek_source(s);
    if (!read_source(held)) return false;
    held_src = s;
  }
  if (!out) out = av::make_frame();
  av_frame_unref(out.get());
  if (av_frame_ref(out.get(), held.get()) < 0) throw std::bad_alloc();
  out->pts = index.ts_of(0) + llround(double(out_pos) * out_ticks);
  ++out_pos;
  return true;
}

void VideoReader::Impl::seek(int64_t i) {
  if (cfr_map.empty()) return seek_source(i);
  if (i < 0 || i >= int64_t(cfr_map.size()))
    throw MediaError(path + ": frame " + std::to_string(i) + " is out of range (the video has " +
                     std::to_string(cfr_map.size()) + " frames at a constant rate)");
  out_pos = i;
  const int64_t s = cfr_map[size_t(i)];
  if (held_src != s) {
    held_src = -1;
    seek_source(s);
  }
}

VideoReader::VideoReader(const std::string& path, VideoReaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.options = options;
  m.fmt = av::open_input(path);
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(m.fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si == AVERROR_STREAM_NOT_FOUND) throw MediaError(path + ": no video stream");
  if (si < 0 || !codec) {
    const int any = av_find_best_stream(m.fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const AVCodecID id = any >= 0 ? m.fmt->streams[any]->codecpar->codec_id : AV_CODEC_ID_NONE;
    const std::string name = id == AV_CODEC_ID_NONE ? "(unknown to this FFmpeg)"
                                                    : avcodec_get_name(id);
    throw MediaError(path + ": unsupported video codec " + name +
                     ": this libavcodec has no decoder for it");
  }
  AVStream* st = m.fmt->streams[si];

  std::optional<FrameIndex> cached;
  if (!options.index_cache.empty()) cached = load_frame_index(options.index_cache, path);
  if (cached && cached->stream_index == si) {
    m.index = std::move(*cached);
  } else {
    m.index = build_frame_index(m.fmt.get(), si, path);
    if (!options.index_cache.empty()) {
      try {
        save_frame_index(m.index, options.index_cache);
      } catch (const std::exception& e) {  // a cache we cannot write only costs time
        spdlog::warn("{}: cannot write the frame index cache {}: {}", path, options.index_cache,
                     e.what());
      }
    }
  }
  if (m.index.frame_count() == 0) throw MediaError(path + ": no video frames");
  if (const std::string cut = truncation(m.fmt.get(), m.index); !cut.empty())
    throw MediaError(path + ": " + cut + "; copy the film again (or remux what is left)");
  if (m.index.vfr && !options.allow_vfr && !options.convert_vfr)
    throw MediaError(path + ": variable frame rate video (" + m.index.vfr_detail +
                     "); convert it to a constant rate first (preprocess.vfr: convert)");

  m.dec = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(m.dec.get(), st->codecpar),
            path + ": video decoder parameters");
  m.dec->thread_count = options.threads;
  m.dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  m.dec->pkt_timebase = st->time_base;
  const int rc = avcodec_open2(m.dec.get(), codec, nullptr);
  if (rc < 0)
    throw MediaError(path + ": cannot open the " + codec->name + " decoder: " +
                     av::error_string(rc));

  const char* fmt_name = m.fmt->iformat->name;
  m.byte_seek = !(m.fmt->iformat->flags & AVFMT_NO_BYTE_SEEK) &&
                (std::strcmp(fmt_name, "mpeg") == 0 || std::strcmp(fmt_name, "mpegts") == 0 ||
                 std::strcmp(fmt_name, "mpegvideo") == 0);

  VideoInfo& vi = m.info;
  vi.path = path;
  vi.stream_index = si;
  vi.codec = avcodec_get_name(st->codecpar->codec_id);
  vi.width = st->codecpar->width;
  vi.height = st->codecpar->height;
  vi.pix_fmt = AVPixelFormat(st->codecpar->format);
  vi.time_base = st->time_base;
  vi.frame_rate = m.index.frame_rate;
  vi.sample_aspect_ratio = av_guess_sample_aspect_ratio(m.fmt.get(), st, nullptr);
  if (vi.sample_aspect_ratio.num <= 0) vi.sample_aspect_ratio = {1, 1};
  vi.frame_count = m.index.frame_count();
  vi.field_order = st->codecpar->field_order;
  vi.container = fmt_name;
  vi.color_primaries = st->codecpar->color_primaries;
  vi.color_trc = st->codecpar->color_trc;
  vi.colorspace = st->codecpar->color_space;
  vi.color_range = st->codecpar->color_range;

  // The scan consumed the demuxer; decoding starts from a fresh one.
  m.open_demuxer();
  m.check_start();
  if (m.byte_seek) m.check_tail();

  if (m.index.vfr && options.convert_vfr) {
    const AVRational rate = m.index.typical_rate;
    m.cfr_map = constant_rate_map(m.index, rate);
    m.out_ticks = 1.0 / (av_q2d(rate) * av_q2d(m.index.time_base));
    vi.frame_rate = rate;
    vi.frame_count = int64_t(m.cfr_map.size());
    spdlog::info("{}: variable frame rate ({}); presented at a constant {}/{} fps: {} source "
                 "frames -> {} frames",
                 path, m.index.vfr_detail, rate.num, rate.den, m.index.frame_count(),
                 vi.frame_count);
  }
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }
void VideoReader::seek(int64_t index) { impl_->seek(index); }
bool VideoReader::read(av::FramePtr& frame) { return impl_->read(frame); }
int64_t VideoReader::position() const {
  return impl_->cfr_map.empty() ? impl_->pos : impl_->out_pos;
}
const FrameIndex& VideoReader::index() const { return impl_->index; }
const AVCodecParameters* VideoReader::codec_parameters() const {
  return impl_->fmt->streams[impl_->index.stream_index]->codecpar;
}

}  // namespace reelscale::media
