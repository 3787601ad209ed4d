#include "shared/media/source_segment.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media {
namespace fs = std::filesystem;

namespace {

// The packets VideoReader's index counts (the same filter, so decode indices agree).
bool indexed(const AVPacket* p, int stream) {
  return p->stream_index == stream && p->size > 0 && !(p->flags & AV_PKT_FLAG_DISCARD);
}

}  // namespace

struct SegmentExtractor::Impl {
  std::string film;
  std::unique_ptr<VideoReader> reader;
  bool byte_seek = false;

  // Reads the next counted packet; false at the end of the file.
  static bool next(AVFormatContext* fmt, int stream, AVPacket* p) {
    for (;;) {
      av_packet_unref(p);
      if (av_read_frame(fmt, p) < 0) return false;
      if (indexed(p, stream)) return true;
    }
  }

  // Seeks the demuxer to packet k, which `p` then holds; false when the landing could not be
  // matched with the index.
  bool seek_to(AVFormatContext* fmt, int64_t k, AVPacket* p) const {
    const int stream = reader->index().stream_index;
    return seek_to_packet(fmt, reader->index(), k, byte_seek, p,
                          [fmt, stream](AVPacket* q) { return next(fmt, stream, q); });
  }
};

SegmentExtractor::SegmentExtractor(const std::string& film, const std::string& index_cache)
    : impl_(std::make_unique<Impl>()) {
  impl_->film = film;
  VideoReaderOptions ro;
  ro.index_cache = index_cache;
  impl_->reader = std::make_unique<VideoReader>(film, ro);
  const std::string& c = impl_->reader->info().container;
  auto fmt = av::open_input(film);
  impl_->byte_seek = !(fmt->iformat->flags & AVFMT_NO_BYTE_SEEK) &&
                     (c == "mpeg" || c == "mpegts" || c == "mpegvideo");
}

SegmentExtractor::~SegmentExtractor() = default;

const VideoInfo& SegmentExtractor::info() const { return impl_->reader->info(); }

namespace {

// The packets of one segment: decode indices d0..dmax of which `take` are copied, holding the
// frames lo..hi, with their decode timestamps.
struct SegmentCut {
  int64_t d0 = 0, dmax = 0, lo = 0, hi = 0;
  std::vector<int64_t> take;
  std::vector<int64_t> dts;  // per taken packet
  int64_t shift = 0;         // added to every pts so that none precedes its dts
};

// Which packets: from the keyframe decoding `first` starts at, through the last packet any
// wanted frame needs; widened until the frames it holds are contiguous (a reference shown
// after `last` pulls in the frames shown between).
SegmentCut plan_cut(const FrameIndex& ix, const std::string& film, int64_t first, int64_t last) {
  // Field-coded films keep a frame's second field in its own packet (frame < 0 in the index);
  // the cut below takes one packet per frame and would drop them. Refuse rather than ship
  // half pictures.
  if (!ix.second_fields.empty())
    throw MediaError(film + ": field-coded video (each frame in two field packets): stream storage "
                     "cannot cut segments of it yet; use storage.mode: shared");
  SegmentCut c;
  c.d0 = ix.keyframe_for(first);
  if (c.d0 < 0) c.d0 = ix.first_used_packet();
  const int64_t d0 = c.d0;
  const int64_t key_ts = ix.packets[size_t(d0)].ts;
  auto wanted = [&](int64_t d) {
    const PacketEntry& e = ix.packets[size_t(d)];
    return d == d0 || (e.frame >= 0 && e.ts >= key_ts);
  };
  int64_t dmax = d0;
  for (int64_t i = first; i <= last; ++i) dmax = std::max(dmax, ix.decode_of[size_t(i)]);
  int64_t lo = first, hi = last;
  for (;;) {
    int64_t nlo = lo, nhi = hi;
    for (int64_t d = d0; d <= dmax; ++d)
      if (wanted(d) && ix.packets[size_t(d)].frame >= 0) {
        nlo = std::min(nlo, ix.packets[size_t(d)].frame);
        nhi = std::max(nhi, ix.packets[size_t(d)].frame);
      }
    int64_t ndmax = dmax;
    for (int64_t i = nlo; i <= nhi; ++i) ndmax = std::max(ndmax, ix.decode_of[size_t(i)]);
    if (nlo == lo && nhi == hi && ndmax == dmax) break;
    lo = nlo, hi = nhi, dmax = ndmax;
  }
  for (int64_t d = d0; d <= dmax; ++d)
    if (wanted(d)) c.take.push_back(d);
  for (int64_t i = lo; i <= hi; ++i) {
    const int64_t d = ix.decode_of[size_t(i)];
    if (d < d0 || !wanted(d))
      throw MediaError(film + ": frame " + std::to_string(i) + " does not decode from keyframe packet " +
                       std::to_string(d0) + " (cannot cut a segment for frames " +
                       std::to_string(first) + ".." + std::to_string(last) + ")");
  }
  if (int64_t(c.take.size()) != hi - lo + 1 + (ix.packets[size_t(d0)].frame < 0 ? 1 : 0))
    throw MediaError(film + ": the packets for frames " + std::to_string(lo) + ".." +
                     std::to_string(hi) + " are not one picture each; cannot cut a segment");
  c.dmax = dmax, c.lo = lo, c.hi = hi;

  // Decode timestamps: the sorted presentation times, shifted so none is after its packet's.
  for (int64_t d : c.take) c.dts.push_back(ix.packets[size_t(d)].ts);
  std::sort(c.dts.begin(), c.dts.end());
  for (size_t i = 0; i < c.take.size(); ++i)
    c.shift = std::max(c.shift, c.dts[i] - ix.packets[size_t(c.take[i])].ts);
  return c;
}

// A NUT muxer for `path` (written to `temp`) with one video stream copying the film's.
av::OutputFormatPtr open_segment_muxer(const fs::path& path, const fs::path& temp, const AVStream* ist,
                                       const FrameIndex& ix) {
  AVFormatContext* raw = nullptr;
  av::check(avformat_alloc_output_context2(&raw, nullptr, "nut", temp.c_str()), path.string() + ": NUT muxer");
  av::OutputFormatPtr mux(raw);
  AVStream* ost = avformat_new_stream(mux.get(), nullptr);
  if (!ost) throw MediaError(path.string() + ": cannot add the video stream");
  av::check(avcodec_parameters_copy(ost->codecpar, ist->codecpar), path.string() + ": codec parameters");
  ost->codecpar->codec_tag = 0;
  ost->time_base = ix.time_base;
  ost->avg_frame_rate = ix.frame_rate;
  ost->r_frame_rate = ix.frame_rate;
  ost->sample_aspect_ratio = ist->sample_aspect_ratio;
  av::check(avio_open(&mux->pb, temp.c_str(), AVIO_FLAG_WRITE), temp.string());
  av::check(avformat_write_header(mux.get(), nullptr), path.string() + ": NUT header");
  return mux;
}

}  // namespace

SourceSegment SegmentExtractor::extract(int64_t first, int64_t last, const fs::path& out) const {
  const FrameIndex& ix = impl_->reader->index();
  const std::string& film = impl_->film;
  const int64_t n = ix.frame_count();
  if (first < 0 || first > last || last >= n)
    throw MediaError(film + ": segment frames [" + std::to_string(first) + ", " +
                     std::to_string(last) + "] outside the film's " + std::to_string(n) + " frames");
  const SegmentCut cut = plan_cut(ix, film, first, last);
  const int64_t d0 = cut.d0;

  av::InputFormatPtr in = av::open_input(film);
  av::PacketPtr pkt = av::make_packet();
  const bool positioned = d0 > 0 && impl_->seek_to(in.get(), d0, pkt.get());
  if (!positioned) {  // exact by construction: count packets from the start
    in = av::open_input(film);
    for (int64_t d = 0; d <= d0; ++d)
      if (!Impl::next(in.get(), ix.stream_index, pkt.get()))
        throw MediaError(film + ": the file ended before video packet " + std::to_string(d0));
  }

  fs::create_directories(out.parent_path().empty() ? fs::path(".") : out.parent_path());
  AtomicOutput file(out);
  av::OutputFormatPtr mux = open_segment_muxer(out, file.temp_path(), in->streams[ix.stream_index], ix);
  const AVStream* ost = mux->streams[0];
  size_t next_take = 0;
  for (int64_t d = d0; d <= cut.dmax; ++d) {
    if (d > d0 && !Impl::next(in.get(), ix.stream_index, pkt.get()))
      throw MediaError(film + ": the file ended before video packet " + std::to_string(d) +
                       " on re-reading (did it change?)");
    const PacketEntry& e = ix.packets[size_t(d)];
    if (pkt->size != e.size)
      throw MediaError(film + ": video packet " + std::to_string(d) + " is " +
                       std::to_string(pkt->size) + " bytes, the index says " + std::to_string(e.size) +
                       " (did the file change?)");
    if (next_take >= cut.take.size() || cut.take[next_take] != d) continue;
    pkt->stream_index = 0;
    pkt->pts = e.ts + cut.shift;
    pkt->dts = cut.dts[next_take];
    pkt->pos = -1;
    pkt->duration = int64_t(ix.frame_duration_ticks + 0.5);
    av_packet_rescale_ts(pkt.get(), ix.time_base, ost->time_base);
    av::check(av_write_frame(mux.get(), pkt.get()), out.string() + ": writing packet " + std::to_string(d));
    ++next_take;
  }
  av::check(av_write_trailer(mux.get()), out.string() + ": NUT trailer");
  avio_closep(&mux->pb);
  mux.reset();
  file.commit();

  SourceSegment s;
  s.path = out;
  s.first_frame = cut.lo;
  s.frame_count = cut.hi - cut.lo + 1;
  s.bytes = int64_t(fs::file_size(out));
  s.checksum = file_checksum(out);
  return s;
}

}  // namespace reelscale::media
