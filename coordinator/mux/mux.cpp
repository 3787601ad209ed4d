#include "coordinator/mux/mux.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "coordinator/retime/srt.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
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
  std::unique_ptr<media::InputFile> in;
  int in_stream = -1;
  int out = -1;  // the output stream
  AVRational tb{1, 1000};
  std::vector<srt::SubtitleEvent> events;  // SRT sources
  bool mov_text = false;
  size_t next_event = 0;
  av::PacketPtr pkt = av::make_packet();
  bool has = false;  // pkt holds the next packet
  int64_t sort_ts = 0;

  // Loads the next packet of this source; false at its end.
  bool advance() {
    av_packet_unref(pkt.get());
    has = in ? next_packet() : next_event_packet();
    if (has) sort_ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    return has;
  }

 private:
  bool next_packet() {
    while (in->read(pkt.get()))
      if (pkt->dts != AV_NOPTS_VALUE || pkt->pts != AV_NOPTS_VALUE) return true;
    return false;
  }
  bool next_event_packet() {
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
    return true;
  }
};

void require_codec_fits(const media::OutputFile& out, const AVCodecParameters* par, const std::string& label,
                        config::Container container) {
  // libavformat's MOV muxer shares MP4's codec table but writes FLAC and Opus only in MP4
  // mode; ask before the header fails with a bare "Invalid argument".
  const bool mov_refuses = container == config::Container::mov && (par->codec_id == AV_CODEC_ID_FLAC ||
                                                  par->codec_id == AV_CODEC_ID_OPUS ||
                                                  par->codec_type == AVMEDIA_TYPE_SUBTITLE);
  const AVOutputFormat* fmt = out.context()->oformat;
  if (mov_refuses || avformat_query_codec(fmt, par->codec_id, FF_COMPLIANCE_NORMAL) == 0)
    throw MediaError(label + ": " + avcodec_get_name(par->codec_id) + " cannot be stored in " + config::to_string(container) +
                     (par->codec_id == AV_CODEC_ID_FLAC ? " (choose aac or ac3 audio for mov, or mkv)" : "") +
                     (par->codec_type == AVMEDIA_TYPE_SUBTITLE ? " (use mkv for bitmap subtitles)" : ""));
}

// The libavformat muxer of the container setting, checked against the output's name.
std::string container_muxer(const MuxInputs& inputs, const fs::path& out) {
  const std::string muxer = inputs.container == config::Container::mov ? "mov" : "matroska";
  std::string by_name;
  try {
    by_name = media::muxer_for(out);
  } catch (const MediaError&) {
    // an unusual extension: the container setting decides
  }
  if (!by_name.empty() && by_name != muxer && !(by_name == "mp4" && muxer == "mov"))
    throw Error("mux: " + out.string() + " is named like a " + by_name + " file but the container is " +
                config::to_string(inputs.container));
  return muxer;
}

// A stream of an input file copied packet for packet, with its tags (language and title
// replaced where given).
std::unique_ptr<Source> copied_track(media::OutputFile& output, config::Container container, const fs::path& file,
                                     int stream, AVMediaType type, const char* what, const std::string& language,
                                     const std::string& title) {
  auto s = std::make_unique<Source>();
  s->label = file.string();
  std::error_code ec;
  if (!fs::exists(file, ec)) throw MediaError(std::string(what) + " " + file.string() + " is missing");
  s->in = std::make_unique<media::InputFile>(file);
  s->in_stream = s->in->require_stream(stream, type);
  s->in->select_only(s->in_stream);
  const AVStream* ist = s->in->stream(s->in_stream);
  require_codec_fits(output, ist->codecpar, s->label, container);
  s->tb = ist->time_base;
  s->out = output.add_copy_stream(ist, ist->time_base);
  output.set_stream_metadata(s->out, "language", language);
  output.set_stream_metadata(s->out, "title", title);
  return s;
}

// An SRT file as a subtitle stream: SubRip in Matroska, tx3g (mov_text) in MOV.
std::unique_ptr<Source> srt_track(media::OutputFile& output, const SrtTrack& t) {
  auto s = std::make_unique<Source>();
  s->label = t.file.string();
  s->events = srt::read_srt_file(t.file);
  std::stable_sort(s->events.begin(), s->events.end(),
                   [](const srt::SubtitleEvent& x, const srt::SubtitleEvent& y) { return x.start_ms < y.start_ms; });
  s->mov_text = output.format() == "mov";
  std::unique_ptr<AVCodecParameters, void (*)(AVCodecParameters*)> par(
      avcodec_parameters_alloc(), [](AVCodecParameters* p) { avcodec_parameters_free(&p); });
  if (!par) throw std::bad_alloc();
  par->codec_type = AVMEDIA_TYPE_SUBTITLE;
  par->codec_id = s->mov_text ? AV_CODEC_ID_MOV_TEXT : AV_CODEC_ID_SUBRIP;
  if (s->mov_text) {
    par->extradata = static_cast<uint8_t*>(av_mallocz(sizeof kTx3gSampleEntry + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!par->extradata) throw std::bad_alloc();
    std::copy(std::begin(kTx3gSampleEntry), std::end(kTx3gSampleEntry), par->extradata);
    par->extradata_size = sizeof kTx3gSampleEntry;
  }
  s->tb = {1, 1000};
  s->out = output.add_stream(par.get(), s->tb);
  output.set_stream_metadata(s->out, "language", t.language);
  output.set_stream_metadata(s->out, "title", t.title);
  if (t.forced) output.set_disposition(s->out, AV_DISPOSITION_FORCED);
  return s;
}

// Every output stream's source, in output order: video, audio, OCR'd SRT (searchable text),
// then the original bitmaps.
std::vector<std::unique_ptr<Source>> add_tracks(media::OutputFile& output, const MuxInputs& inputs) {
  std::vector<std::unique_ptr<Source>> sources;
  const config::Container c = inputs.container;
  auto video = copied_track(output, c, inputs.video, -1, AVMEDIA_TYPE_VIDEO, "the video file", "", "");
  const AVStream* ist = video->in->stream(video->in_stream);
  output.set_frame_rate(video->out, ist->avg_frame_rate);
  output.stream(video->out)->r_frame_rate = ist->r_frame_rate;
  output.stream(video->out)->sample_aspect_ratio = ist->codecpar->sample_aspect_ratio;
  output.set_disposition(video->out, AV_DISPOSITION_DEFAULT);
  sources.push_back(std::move(video));
  const bool any_default =
      std::any_of(inputs.audio.begin(), inputs.audio.end(), [](const AudioTrack& a) { return a.default_track; });
  for (size_t i = 0; i < inputs.audio.size(); ++i) {
    const AudioTrack& a = inputs.audio[i];
    auto s = copied_track(output, c, a.file, a.stream, AVMEDIA_TYPE_AUDIO, "audio track", a.language, a.title);
    output.set_disposition(s->out, (any_default ? a.default_track : i == 0) ? AV_DISPOSITION_DEFAULT : 0);
    sources.push_back(std::move(s));
  }
  for (const SrtTrack& t : inputs.srt) sources.push_back(srt_track(output, t));
  for (const BitmapSubtitleTrack& b : inputs.bitmap_subtitles) {
    auto s = copied_track(output, c, b.file, b.stream, AVMEDIA_TYPE_SUBTITLE, "subtitle track", b.language, b.title);
    output.set_disposition(s->out, s->in->stream(s->in_stream)->disposition & AV_DISPOSITION_FORCED);
    sources.push_back(std::move(s));
  }
  return sources;
}

// Interleaves by decode time: always writes the source whose next packet comes first.
// Returns the packets written per source.
std::vector<int64_t> interleave(media::OutputFile& output, std::vector<std::unique_ptr<Source>>& sources) {
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
    if (best < 0) return written;
    Source& s = *sources[best];
    output.write(s.out, s.pkt.get(), "a packet from " + s.label);
    ++written[best];
    s.advance();
  }
}

}  // namespace

MuxResult mux_final(const MuxInputs& inputs, const fs::path& out) {
  const std::string out_label = out.string();
  const std::string muxer = container_muxer(inputs, out);
  media::OutputFile output(out, media::OutputOptions{muxer});
  auto sources = add_tracks(output, inputs);
  if (!inputs.title.empty()) output.set_metadata("title", inputs.title);
  std::vector<media::OutputChapter> chapters;
  for (const retime::Chapter& c : inputs.chapters) chapters.push_back({c.start_ms, c.end_ms, c.title});
  output.add_chapters(chapters);
  // MOV: the index up front, so players can start before the whole file is read.
  if (muxer == "mov") output.write_header({{"movflags", "+faststart"}});
  else output.write_header();

  const std::vector<int64_t> written = interleave(output, sources);
  if (written[0] == 0) throw MediaError(inputs.video.string() + ": the video stream has no frames");
  const int nstreams = static_cast<int>(output.context()->nb_streams);
  output.finish();
  sources.clear();

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
using Spans = std::map<int, Span>;

// Reads packets from the current position to the end; true when every wanted stream was seen.
bool scan(media::InputFile& in, Spans& spans, bool starts_too) {
  auto pkt = av::make_packet();
  std::map<int, bool> seen;
  while (in.read(pkt.get())) {
    auto it = spans.find(pkt->stream_index);
    if (it != spans.end() && pkt->pts != AV_NOPTS_VALUE) {
      if (starts_too) it->second.start = std::min(it->second.start, pkt->pts);
      it->second.end = std::max(it->second.end, pkt->pts + std::max<int64_t>(pkt->duration, 0));
      seen[pkt->stream_index] = true;
    }
  }
  return seen.size() == spans.size();
}

// The starts from the head of the file: until every stream was seen and 2 s were read (for
// reordered B-frame starts), at most 60 s. False when a stream had no packet there.
bool scan_head(media::InputFile& in, Spans& spans) {
  const int64_t origin = in.start_time() == AV_NOPTS_VALUE ? 0 : in.start_time();
  const int64_t second = AV_TIME_BASE;
  auto pkt = av::make_packet();
  std::map<int, bool> seen;
  for (;;) {
    try {
      if (!in.read(pkt.get())) break;
    } catch (const MediaError&) {
      break;  // the full read that follows names the damage
    }
    int64_t us = 0;
    auto it = spans.find(pkt->stream_index);
    if (it != spans.end() && pkt->pts != AV_NOPTS_VALUE) {
      it->second.start = std::min(it->second.start, pkt->pts);
      seen[pkt->stream_index] = true;
      us = av_rescale_q(pkt->pts, in.stream(pkt->stream_index)->time_base, AV_TIME_BASE_Q) - origin;
    }
    if ((seen.size() == spans.size() && us > 2 * second) || us > 60 * second) break;
  }
  return seen.size() == spans.size();
}

// Starts from the first seconds, ends from the last ones: a film is far too big to read whole
// (4K ProRes is ~150 MB/s). The tail window grows (5 s, 1 min, 10 min) while a stream has no
// packet in it (an audio track that ends early); beyond that, a full read. Returns whether the
// whole file was read.
bool measure_spans(std::unique_ptr<media::InputFile>& in, const fs::path& file, Spans& spans) {
  std::vector<int> wanted;
  for (const auto& [i, sp] : spans) wanted.push_back(i);
  in->select(wanted);
  const int64_t origin = in->start_time() == AV_NOPTS_VALUE ? 0 : in->start_time();
  const int64_t second = AV_TIME_BASE, duration = in->duration();
  bool full = duration == AV_NOPTS_VALUE || duration <= 20 * second;
  if (!full) {
    full = !scan_head(*in, spans);
    bool tail_ok = false;
    for (const int64_t w : {5 * second, 60 * second, 600 * second}) {
      if (full || w >= duration) break;
      if (!in->seek(-1, origin + duration - w)) break;
      if ((tail_ok = scan(*in, spans, false))) break;
    }
    full = full || !tail_ok;
    if (full) {
      for (auto& [i, sp] : spans) sp = {};
      // after a seek the context may be anywhere: reopen for a clean full read
      in = std::make_unique<media::InputFile>(file);
      in->select(wanted);
    }
  }
  if (full) scan(*in, spans, true);
  return full;
}
}  // namespace

SyncReport check_av_sync(const fs::path& file) {
  auto in = std::make_unique<media::InputFile>(file);
  const int vs = in->first_stream(AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(file.string() + " has no video stream");
  Spans spans;
  for (int i = 0; i < in->stream_count(); ++i)
    if (i == vs || in->stream(i)->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) spans[i] = {};
  const bool full = measure_spans(in, file, spans);

  auto seconds = [&](int idx, int64_t t) { return double(t) * av_q2d(in->stream(idx)->time_base); };
  SyncReport r;
  r.full_read = full;
  const Span& v = spans[vs];
  if (v.end == INT64_MIN) throw MediaError(file.string() + ": the video stream has no frames");
  r.video_start_s = seconds(vs, v.start);
  r.video_duration_s = seconds(vs, v.end) - r.video_start_s;
  AVRational fr = in->stream(vs)->avg_frame_rate;
  if (fr.num <= 0 || fr.den <= 0) fr = in->stream(vs)->r_frame_rate;
  r.tolerance_s = fr.num > 0 && fr.den > 0 ? av_q2d(av_inv_q(fr)) : 0.040;
  const double video_end = seconds(vs, v.end);
  for (const auto& [idx, sp] : spans) {
    if (idx == vs) continue;
    TrackSync t;
    t.stream_index = idx;
    t.language = in->stream_tag(idx, "language");
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
