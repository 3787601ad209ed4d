#include "coordinator/mux/mux.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "coordinator/concat/stream_copy.hpp"
#include "coordinator/retime/srt.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::mux {
namespace fs = std::filesystem;

namespace {

// The sample description libavcodec's mov_text encoder writes (tx3g: no display flags,
// centred, bottom, transparent background, one style, font "Serif" 18 px white).
const uint8_t kTx3gSampleEntry[] = {
    0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x00,  // flags, justification, bg
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // BoxRecord
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0xFF, 0xFF, 0xFF, 0xFF,  // StyleRecord
    0x00, 0x00, 0x00, 0x12, 'f', 't', 'a', 'b', 0x00, 0x01,      // FontTableBox
    0x00, 0x01, 0x05, 'S', 'e', 'r', 'i', 'f'};

// One output stream's packet source: a stream of an input file, or SRT events in memory.
struct Source {
  std::string label;
  av::InputFormatPtr in;
  int in_stream = -1;
  AVRational tb{1, 1000};
  AVStream* out = nullptr;
  std::vector<srt::SubtitleEvent> events;  // SRT sources
  bool mov_text = false;
  size_t next_event = 0;
  av::PacketPtr pkt = av::make_packet();
  bool has = false;  // pkt holds the next packet
  int64_t sort_ts = 0;

  // Loads the next packet of this source; false at its end.
  bool advance() {
    av_packet_unref(pkt.get());
    has = false;
    if (!in) {
      if (next_event >= events.size()) return false;
      const auto& e = events[next_event++];
      std::string payload = e.text;
      if (mov_text) {  // tx3g samples: 16-bit big-endian length, then the UTF-8 text
        if (payload.size() > 0xFFFF) payload.resize(0xFFFF);
        const auto n = static_cast<uint16_t>(payload.size());
        payload.insert(0, std::string{static_cast<char>(n >> 8), static_cast<char>(n & 0xFF)});
      }
      av::check(av_new_packet(pkt.get(), static_cast<int>(payload.size())), label);
      std::copy(payload.begin(), payload.end(), pkt->data);
      pkt->pts = pkt->dts = e.start_ms;
      pkt->duration = e.end_ms - e.start_ms;
      pkt->flags |= AV_PKT_FLAG_KEY;
      has = true;
    } else {
      for (;;) {
        const int rc = av_read_frame(in.get(), pkt.get());
        if (rc == AVERROR_EOF) return false;
        if (rc < 0) throw MediaError(label + ": read error: " + av::error_string(rc));
        if (pkt->stream_index == in_stream && (pkt->dts != AV_NOPTS_VALUE || pkt->pts != AV_NOPTS_VALUE)) break;
        av_packet_unref(pkt.get());
      }
      has = true;
    }
    sort_ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    return true;
  }
};

av::InputFormatPtr open_track_file(const fs::path& file, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw MediaError(what + " " + file.string() + " is missing");
  return av::open_input(file.string());
}

int pick_stream(AVFormatContext* in, int wanted, AVMediaType type, const fs::path& file) {
  const std::string kind = av_get_media_type_string(type);
  if (wanted < 0) {
    const int s = assemble::first_stream_of(in, type);
    if (s < 0) throw MediaError(file.string() + " has no " + kind + " stream");
    return s;
  }
  if (wanted >= static_cast<int>(in->nb_streams) || in->streams[wanted]->codecpar->codec_type != type)
    throw MediaError(file.string() + ": stream #" + std::to_string(wanted) + " is not a " + kind + " stream");
  return wanted;
}

void require_codec_fits(const AVFormatContext* out, const AVCodecParameters* par, const std::string& label,
                        const std::string& container) {
  // libavformat's MOV muxer shares MP4's codec table but writes FLAC and Opus only in MP4
  // mode; ask before the header fails with a bare "Invalid argument".
  const bool mov_refuses = container == "mov" && (par->codec_id == AV_CODEC_ID_FLAC ||
                                                  par->codec_id == AV_CODEC_ID_OPUS ||
                                                  par->codec_type == AVMEDIA_TYPE_SUBTITLE);
  if (mov_refuses || avformat_query_codec(out->oformat, par->codec_id, FF_COMPLIANCE_NORMAL) == 0)
    throw MediaError(label + ": " + avcodec_get_name(par->codec_id) + " cannot be stored in " + container +
                     (par->codec_id == AV_CODEC_ID_FLAC ? " (choose aac or ac3 audio for mov, or mkv)" : "") +
                     (par->codec_type == AVMEDIA_TYPE_SUBTITLE ? " (use mkv for bitmap subtitles)" : ""));
}

void set_tag(AVStream* st, const char* key, const std::string& value) {
  if (!value.empty()) av_dict_set(&st->metadata, key, value.c_str(), 0);
}

void add_chapters(AVFormatContext* out, const std::vector<retime::Chapter>& chapters) {
  for (size_t i = 0; i < chapters.size(); ++i) {
    auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!ch) throw std::bad_alloc();
    ch->id = static_cast<int64_t>(i + 1);
    ch->time_base = {1, 1000};
    ch->start = chapters[i].start_ms;
    ch->end = std::max(chapters[i].end_ms, chapters[i].start_ms);
    if (!chapters[i].title.empty()) av_dict_set(&ch->metadata, "title", chapters[i].title.c_str(), 0);
    // avformat_free_context() frees the array and each chapter with its metadata.
    const int rc = av_dynarray_add_nofree(&out->chapters, reinterpret_cast<int*>(&out->nb_chapters), ch);
    if (rc < 0) {
      av_dict_free(&ch->metadata);
      av_free(ch);
      throw std::bad_alloc();
    }
  }
}

}  // namespace

MuxResult mux_final(const MuxInputs& inputs, const fs::path& out) {
  const std::string out_label = out.string();
  std::string muxer;
  if (inputs.container == "mkv") muxer = "matroska";
  else if (inputs.container == "mov") muxer = "mov";
  else throw Error("mux: unknown container '" + inputs.container + "' (mkv or mov)");
  std::string by_name;
  try {
    by_name = assemble::muxer_for(out);
  } catch (const MediaError&) {
    // an unusual extension: the container setting decides
  }
  if (!by_name.empty() && by_name != muxer && !(by_name == "mp4" && muxer == "mov"))
    throw Error("mux: " + out_label + " is named like a " + by_name + " file but the container is " +
                inputs.container);

  AtomicOutput atomic(out);
  auto octx = assemble::make_output(muxer, out_label);
  std::vector<std::unique_ptr<Source>> sources;

  // A stream of an input file copied packet for packet, with its tags (language and title
  // replaced where given).
  auto copied_track = [&](const fs::path& file, int stream, AVMediaType type, const char* what,
                          const std::string& language, const std::string& title) {
    auto s = std::make_unique<Source>();
    s->label = file.string();
    s->in = open_track_file(file, what);
    s->in_stream = pick_stream(s->in.get(), stream, type, file);
    AVStream* ist = s->in->streams[s->in_stream];
    require_codec_fits(octx.get(), ist->codecpar, s->label, inputs.container);
    s->tb = ist->time_base;
    s->out = assemble::add_copy_stream(octx.get(), ist->codecpar, out_label);
    s->out->time_base = ist->time_base;
    assemble::copy_stream_tags(ist, s->out);
    set_tag(s->out, "language", language);
    set_tag(s->out, "title", title);
    return s;
  };

  // Video.
  {
    auto s = copied_track(inputs.video, -1, AVMEDIA_TYPE_VIDEO, "the video file", "", "");
    const AVStream* ist = s->in->streams[s->in_stream];
    s->out->avg_frame_rate = ist->avg_frame_rate;
    s->out->r_frame_rate = ist->r_frame_rate;
    s->out->sample_aspect_ratio = ist->codecpar->sample_aspect_ratio;
    s->out->disposition = AV_DISPOSITION_DEFAULT;
    sources.push_back(std::move(s));
  }
  // Audio.
  const bool any_default =
      std::any_of(inputs.audio.begin(), inputs.audio.end(), [](const AudioTrack& a) { return a.default_track; });
  for (size_t i = 0; i < inputs.audio.size(); ++i) {
    const AudioTrack& a = inputs.audio[i];
    auto s = copied_track(a.file, a.stream, AVMEDIA_TYPE_AUDIO, "audio track", a.language, a.title);
    s->out->disposition = (any_default ? a.default_track : i == 0) ? AV_DISPOSITION_DEFAULT : 0;
    sources.push_back(std::move(s));
  }
  // Subtitles: OCR'd SRT first (searchable text), then the original bitmaps.
  for (const SrtTrack& t : inputs.srt) {
    auto s = std::make_unique<Source>();
    s->label = t.file.string();
    s->events = srt::read_srt_file(t.file);
    std::stable_sort(s->events.begin(), s->events.end(),
                     [](const srt::SubtitleEvent& x, const srt::SubtitleEvent& y) { return x.start_ms < y.start_ms; });
    s->mov_text = muxer == "mov";
    AVStream* st = avformat_new_stream(octx.get(), nullptr);
    if (!st) throw MediaError(out_label + ": cannot add a stream");
    st->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    st->codecpar->codec_id = s->mov_text ? AV_CODEC_ID_MOV_TEXT : AV_CODEC_ID_SUBRIP;
    if (s->mov_text) {
      st->codecpar->extradata =
          static_cast<uint8_t*>(av_mallocz(sizeof kTx3gSampleEntry + AV_INPUT_BUFFER_PADDING_SIZE));
      if (!st->codecpar->extradata) throw std::bad_alloc();
      std::copy(std::begin(kTx3gSampleEntry), std::end(kTx3gSampleEntry), st->codecpar->extradata);
      st->codecpar->extradata_size = sizeof kTx3gSampleEntry;
    }
    st->time_base = {1, 1000};
    s->tb = {1, 1000};
    s->out = st;
    set_tag(st, "language", t.language);
    set_tag(st, "title", t.title);
    sources.push_back(std::move(s));
  }
  for (const BitmapSubtitleTrack& b : inputs.bitmap_subtitles) {
    auto s = copied_track(b.file, b.stream, AVMEDIA_TYPE_SUBTITLE, "subtitle track", b.language, b.title);
    s->out->disposition = s->in->streams[s->in_stream]->disposition & AV_DISPOSITION_FORCED;
    sources.push_back(std::move(s));
  }
  for (auto& s : sources)
    if (s->in)
      for (unsigned i = 0; i < s->in->nb_streams; ++i)
        if (static_cast<int>(i) != s->in_stream) s->in->streams[i]->discard = AVDISCARD_ALL;

  if (!inputs.title.empty()) av_dict_set(&octx->metadata, "title", inputs.title.c_str(), 0);
  if (!inputs.chapters.empty()) add_chapters(octx.get(), inputs.chapters);
  AVDictionary* opts = nullptr;
  // MOV: the index up front, so players can start before the whole file is read.
  if (muxer == "mov") av_dict_set(&opts, "movflags", "+faststart", 0);
  try {
    assemble::open_and_write_header(octx.get(), atomic.temp_path(), out_label, &opts);
  } catch (...) {
    av_dict_free(&opts);
    throw;
  }
  av_dict_free(&opts);

  // Interleave by decode time: always write the source whose next packet comes first.
  for (auto& s : sources) s->advance();
  std::vector<int64_t> written(sources.size(), 0);
  for (;;) {
    int best = -1;
    for (size_t i = 0; i < sources.size(); ++i) {
      if (!sources[i]->has) continue;
      if (best < 0 || av_compare_ts(sources[i]->sort_ts, sources[i]->tb, sources[best]->sort_ts,
                                    sources[best]->tb) < 0)
        best = static_cast<int>(i);
    }
    if (best < 0) break;
    Source& s = *sources[best];
    AVPacket* p = s.pkt.get();
    p->stream_index = s.out->index;
    p->pos = -1;
    av_packet_rescale_ts(p, s.tb, s.out->time_base);
    const int rc = av_interleaved_write_frame(octx.get(), p);
    if (rc < 0) throw MediaError(out_label + ": cannot write a packet from " + s.label + ": " + av::error_string(rc));
    ++written[best];
    s.advance();
  }
  if (written[0] == 0) throw MediaError(inputs.video.string() + ": the video stream has no frames");
  assemble::finish_output(octx.get(), out_label);
  const int nstreams = static_cast<int>(octx->nb_streams);
  octx.reset();
  sources.clear();
  atomic.commit();

  MuxResult r;
  r.file = out;
  r.streams = nstreams;
  spdlog::info("mux: {} ({} streams: video, {} audio, {} SRT, {} bitmap subtitles, {} chapters)", out_label, nstreams,
               inputs.audio.size(), inputs.srt.size(), inputs.bitmap_subtitles.size(), inputs.chapters.size());
  r.sync = check_av_sync(out);
  // Said once, here (the report checks the file again, quietly).
  if (r.sync.ok) spdlog::info("sync: {}: {}", out_label, r.sync.summary());
  else spdlog::warn("sync: {}: {}", out_label, r.sync.summary());
  return r;
}

// ---- sync check ----

std::string SyncReport::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "video %.3f s (start %.3f s)", video_duration_s, video_start_s);
  std::string s = buf;
  for (const auto& a : audio) {
    std::snprintf(buf, sizeof buf, "; audio #%d%s%s %.3f s (start %+.3f s, end %+.3f s vs video) %s", a.stream_index,
                  a.language.empty() ? "" : " ", a.language.c_str(), a.duration_s, a.start_delta_s, a.end_delta_s,
                  a.ok ? "ok" : "OUT OF SYNC");
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "; tolerance %.1f ms", tolerance_s * 1000);
  return s + buf;
}

namespace {
struct Span {
  int64_t start = INT64_MAX, end = INT64_MIN;  // stream time base
};

// Reads packets from the current position to the end; true when every wanted stream was seen.
bool scan(AVFormatContext* in, std::map<int, Span>& spans, bool starts_too) {
  auto pkt = av::make_packet();
  std::map<int, bool> seen;
  for (;;) {
    const int rc = av_read_frame(in, pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(std::string(in->url) + ": read error: " + av::error_string(rc));
    auto it = spans.find(pkt->stream_index);
    if (it != spans.end() && pkt->pts != AV_NOPTS_VALUE) {
      if (starts_too) it->second.start = std::min(it->second.start, pkt->pts);
      it->second.end = std::max(it->second.end, pkt->pts + std::max<int64_t>(pkt->duration, 0));
      seen[pkt->stream_index] = true;
    }
    av_packet_unref(pkt.get());
  }
  return seen.size() == spans.size();
}
}  // namespace

SyncReport check_av_sync(const fs::path& file) {
  auto in = av::open_input(file.string());
  const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(file.string() + " has no video stream");
  std::map<int, Span> spans;
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    const auto t = in->streams[i]->codecpar->codec_type;
    if (static_cast<int>(i) == vs || t == AVMEDIA_TYPE_AUDIO) spans[static_cast<int>(i)] = {};
    else in->streams[i]->discard = AVDISCARD_ALL;
  }
  // Starts from the first seconds, ends from the last ones: a film is far too big to read
  // whole (4K ProRes is ~150 MB/s). The tail window grows (5 s, 1 min, 10 min) while a stream
  // has no packet in it (an audio track that ends early); beyond that, a full read.
  const int64_t origin = in->start_time == AV_NOPTS_VALUE ? 0 : in->start_time;
  const int64_t second = AV_TIME_BASE;
  bool full = in->duration == AV_NOPTS_VALUE || in->duration <= 20 * second;
  if (!full) {
    auto pkt = av::make_packet();
    std::map<int, bool> seen;
    // every stream seen, and 2 s read for reordered (B-frame) starts; at most 60 s
    for (;;) {
      const int rc = av_read_frame(in.get(), pkt.get());
      if (rc < 0) break;
      int64_t us = 0;
      auto it = spans.find(pkt->stream_index);
      if (it != spans.end() && pkt->pts != AV_NOPTS_VALUE) {
        it->second.start = std::min(it->second.start, pkt->pts);
        seen[pkt->stream_index] = true;
        us = av_rescale_q(pkt->pts, in->streams[pkt->stream_index]->time_base, AV_TIME_BASE_Q) - origin;
      }
      av_packet_unref(pkt.get());
      if ((seen.size() == spans.size() && us > 2 * second) || us > 60 * second) break;
    }
    full = seen.size() < spans.size();
    bool tail_ok = false;
    for (const int64_t w : {5 * second, 60 * second, 600 * second}) {
      if (full || w >= in->duration) break;
      if (av_seek_frame(in.get(), -1, origin + in->duration - w, AVSEEK_FLAG_BACKWARD) < 0) break;
      if ((tail_ok = scan(in.get(), spans, false))) break;
    }
    full = full || !tail_ok;
    if (full) {
      for (auto& [i, sp] : spans) sp = {};
      // after a seek the context may be anywhere: reopen for a clean full read
      in = av::open_input(file.string());
      for (unsigned i = 0; i < in->nb_streams; ++i)
        if (!spans.count(static_cast<int>(i))) in->streams[i]->discard = AVDISCARD_ALL;
    }
  }
  if (full) scan(in.get(), spans, true);

  auto seconds = [&](int idx, int64_t t) { return double(t) * av_q2d(in->streams[idx]->time_base); };
  SyncReport r;
  r.full_read = full;
  const Span& v = spans[vs];
  if (v.end == INT64_MIN) throw MediaError(file.string() + ": the video stream has no frames");
  r.video_start_s = seconds(vs, v.start);
  r.video_duration_s = seconds(vs, v.end) - r.video_start_s;
  AVRational fr = in->streams[vs]->avg_frame_rate;
  if (fr.num <= 0 || fr.den <= 0) fr = in->streams[vs]->r_frame_rate;
  r.tolerance_s = fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.040;
  const double video_end = seconds(vs, v.end);
  for (const auto& [idx, sp] : spans) {
    if (idx == vs) continue;
    TrackSync t;
    t.stream_index = idx;
    if (const AVDictionaryEntry* e = av_dict_get(in->streams[idx]->metadata, "language", nullptr, 0))
      t.language = e->value;
    if (sp.end == INT64_MIN) {
      t.ok = false;
      t.end_delta_s = -r.video_duration_s;
    } else {
      t.start_s = seconds(idx, sp.start);
      t.duration_s = seconds(idx, sp.end) - t.start_s;
      t.start_delta_s = t.start_s - r.video_start_s;
      t.end_delta_s = seconds(idx, sp.end) - video_end;
      // a millisecond of slack for container timestamp rounding (Matroska stores ms)
      const double tol = r.tolerance_s + 0.0011;
      t.ok = std::fabs(t.start_delta_s) <= tol && std::fabs(t.end_delta_s) <= tol;
    }
    r.ok = r.ok && t.ok;
    r.audio.push_back(t);
  }
  return r;
}

}  // namespace reelscale::mux
