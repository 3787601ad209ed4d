#include "shared/media/disc_input.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <vector>
#include <memory>

#include "shared/disc/language.hpp"
#include "shared/disc/title_stream.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media {
namespace {

constexpr int kBufferBytes = 32 * 2048;  // sector-aligned, so reads go straight to the disc

// The title stream and the AVIOContext reading it, owned by the InputFormatPtr's deleter and
// freed after the format context.
struct DiscSource {
  std::unique_ptr<disc::TitleStream> stream;
  int64_t pos = 0;
  AVIOContext* io = nullptr;
  ~DiscSource() {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};

int read_packet(void* opaque, uint8_t* buf, int size) {
  auto* s = static_cast<DiscSource*>(opaque);
  try {
    const int n = s->stream->read(s->pos, buf, size);
    if (n == 0) return AVERROR_EOF;
    s->pos += n;
    return n;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());  // libav only passes the code on
    return AVERROR(EIO);
  }
}

int64_t seek(void* opaque, int64_t offset, int whence) {
  auto* s = static_cast<DiscSource*>(opaque);
  const int64_t size = s->stream->size();
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: break;
    case SEEK_CUR: offset += s->pos; break;
    case SEEK_END: offset += size; break;
    default: return AVERROR(EINVAL);
  }
  if (offset < 0) return AVERROR(EINVAL);
  return s->pos = offset;
}

AVStream* stream_with_id(AVFormatContext* f, int id) {
  for (unsigned i = 0; i < f->nb_streams; ++i)
    if (f->streams[i]->id == id) return f->streams[i];
  return nullptr;
}

// "size: WxH\npalette: rrggbb, ..." as in a VobSub .idx: libavcodec's dvdsub decoder and the
// Matroska muxer both read the palette from it.
std::string vobsub_extradata(const disc::Title& t) {
  std::string s = "size: " + std::to_string(t.width) + "x" + std::to_string(t.height) + "\npalette:";
  for (size_t i = 0; i < t.palette.size(); ++i) {
    char c[16];
    std::snprintf(c, sizeof c, "%s %06x", i ? "," : "", unsigned(t.palette[i]));
    s += c;
  }
  return s + "\n";
}

// Subtitle streams exist before reading, so one whose first picture comes late in the film is
// not missed by the stream-info probe (the demuxer routes packets by stream id).
void add_subtitle_streams(AVFormatContext* f, const disc::Title& t) {
  const std::string extradata = vobsub_extradata(t);
  for (const auto& sub : t.subtitles) {
    AVStream* st = stream_with_id(f, sub.stream_id);
    if (!st) {
      st = avformat_new_stream(f, nullptr);
      if (!st) throw std::bad_alloc();
      st->id = sub.stream_id;
      st->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
      st->codecpar->codec_id = AV_CODEC_ID_DVD_SUBTITLE;
      st->time_base = AVRational{1, 90000};
    }
    if (!st->codecpar->extradata && !t.palette.empty()) {
      st->codecpar->extradata = static_cast<uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
      if (!st->codecpar->extradata) throw std::bad_alloc();
      std::copy(extradata.begin(), extradata.end(), st->codecpar->extradata);
      st->codecpar->extradata_size = int(extradata.size());
    }
  }
}

void tag_streams(AVFormatContext* f, const disc::Title& t) {
  auto tag = [](AVStream* st, const std::string& lang) {
    if (st && !lang.empty()) av_dict_set(&st->metadata, "language", disc::iso639_2(lang).c_str(), 0);
  };
  for (const auto& a : t.audio) tag(stream_with_id(f, a.stream_id), a.language);
  for (const auto& s : t.subtitles) {
    AVStream* st = stream_with_id(f, s.stream_id);
    tag(st, s.language);
    if (st && s.forced) st->disposition |= AV_DISPOSITION_FORCED;
  }
}

void add_chapters(AVFormatContext* f, const disc::Title& t) {
  const AVRational ms{1, 1000};
  for (size_t i = 0; i < t.chapters.size(); ++i) {
    auto* c = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!c) throw std::bad_alloc();
    c->id = int64_t(i + 1);
    c->time_base = ms;
    c->start = t.chapters[i].start_ms;
    c->end = i + 1 < t.chapters.size() ? t.chapters[i + 1].start_ms : t.duration_ms;
    av_dict_set(&c->metadata, "title", ("Chapter " + std::to_string(i + 1)).c_str(), 0);
    av_dynarray_add(&f->chapters, reinterpret_cast<int*>(&f->nb_chapters), c);
    if (!f->chapters) throw std::bad_alloc();
  }
}

}  // namespace

av::InputFormatPtr open_disc_input(const std::string& locator) {
  auto source = std::make_shared<DiscSource>();
  source->stream = std::make_unique<disc::TitleStream>(disc::parse_locator(locator));
  const disc::Title& title = source->stream->title();
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferBytes));
  if (!buffer) throw std::bad_alloc();
  source->io = avio_alloc_context(buffer, kBufferBytes, 0, source.get(), read_packet, nullptr, seek);
  if (!source->io) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw std::bad_alloc();
  raw->pb = source->io;
  const std::string label = source->stream->describe();
  int rc = avformat_open_input(&raw, label.c_str(), av_find_input_format("mpeg"), nullptr);
  if (rc < 0) throw MediaError("cannot open " + label + ": " + av::error_string(rc));
  av::InputFormatPtr ctx(raw, av::FormatInputDeleter{source});
  add_subtitle_streams(ctx.get(), title);
  rc = avformat_find_stream_info(ctx.get(), nullptr);
  if (rc < 0) throw MediaError("cannot read stream info of " + label + ": " + av::error_string(rc));
  tag_streams(ctx.get(), title);
  add_chapters(ctx.get(), title);
  return ctx;
}

std::string input_fingerprint(const std::string& input) {
  if (!disc::is_disc_locator(input)) return file_fingerprint(input);
  disc::TitleStream title(disc::parse_locator(input));
  Checksum c;
  c.update(input + "\n" + std::to_string(title.size()));
  constexpr int kBlock = 1 << 20;
  std::vector<uint8_t> buf(kBlock);
  for (int64_t offset : {int64_t{0}, title.size() / 2, std::max<int64_t>(0, title.size() - kBlock)}) {
    int got = 0;
    for (int n = 0; got < kBlock && (n = title.read(offset + got, buf.data() + got, kBlock - got)) > 0;) got += n;
    c.update(reinterpret_cast<const char*>(buf.data()), size_t(got));
  }
  return c.hex_digest();
}

void require_input(const std::string& input) {
  if (disc::is_disc_locator(input)) {
    const disc::TitleStream title(disc::parse_locator(input));
    // Preflight and the job both check the input: the user is told once.
    static std::mutex mu;
    static std::string told;
    const std::lock_guard<std::mutex> lock(mu);
    if (told != input) spdlog::info("input: {}", title.describe());
    told = input;
    return;
  }
  if (!std::filesystem::exists(input)) throw MediaError("input " + input + " does not exist");
}

}  // namespace reelscale::media
