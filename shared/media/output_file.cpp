#include "shared/media/output_file.hpp"

#include <algorithm>
#include <cctype>
#include <new>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media {
namespace fs = std::filesystem;

std::string muxer_for(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".mkv" || ext == ".mka" || ext == ".mks") return "matroska";
  if (ext == ".mov") return "mov";
  if (ext == ".mp4") return "mp4";
  throw MediaError(path.string() + ": unsupported output container '" + ext +
                   "' (use .mkv, .mka, .mks, .mov or .mp4)");
}

std::string describe(const AVCodecParameters* par) {
  std::string s = avcodec_get_name(par->codec_id);
  if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
    const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
    s += " " + std::to_string(par->width) + "x" + std::to_string(par->height) + " " + (pf ? pf : "?");
  } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
    s += " " + std::to_string(par->sample_rate) + " Hz " + std::to_string(par->ch_layout.nb_channels) + " ch";
  }
  return s;
}

OutputFile::OutputFile(const fs::path& path, const OutputOptions& options)
    : path_(path), format_(options.format.empty() ? muxer_for(path) : options.format) {
  if (options.atomic) atomic_ = std::make_unique<AtomicOutput>(path);
  // The file name the muxer sees is the one written (MOV's faststart pass reopens it by name).
  const fs::path written = atomic_ ? atomic_->temp_path() : path;
  AVFormatContext* raw = nullptr;
  const int rc = avformat_alloc_output_context2(&raw, nullptr, format_.c_str(), written.c_str());
  if (rc < 0 || !raw)
    throw MediaError(path.string() + ": cannot create a " + format_ + " muxer: " + av::error_string(rc));
  ctx_.reset(raw);
  // Reproducible files: no library version strings or random UIDs in the container.
  ctx_->flags |= AVFMT_FLAG_BITEXACT;
}

// The context (and its file) closes before AtomicOutput removes an uncommitted temp file.
OutputFile::~OutputFile() { ctx_.reset(); }

bool OutputFile::wants_global_header() const { return ctx_->oformat->flags & AVFMT_GLOBALHEADER; }
const std::string& OutputFile::format() const { return format_; }

AVStream* OutputFile::new_stream(AVRational time_base) {
  if (header_written_) throw MediaError(path_.string() + ": stream added after the header");
  AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
  if (!st) throw std::bad_alloc();
  st->time_base = time_base;
  input_time_bases_.push_back(time_base);
  packets_.push_back(0);
  return st;
}

int OutputFile::add_stream(const AVCodecContext* encoder, AVRational time_base) {
  AVStream* st = new_stream(time_base);
  av::check(avcodec_parameters_from_context(st->codecpar, encoder),
            path_.string() + ": copying encoder parameters");
  if (encoder->codec_type == AVMEDIA_TYPE_VIDEO) {
    st->avg_frame_rate = encoder->framerate;
    st->r_frame_rate = encoder->framerate;
    st->sample_aspect_ratio = encoder->sample_aspect_ratio;
  }
  return st->index;
}

int OutputFile::add_stream(const AVCodecParameters* params, AVRational time_base) {
  AVStream* st = new_stream(time_base);
  av::check(avcodec_parameters_copy(st->codecpar, params), path_.string() + ": copying parameters");
  st->codecpar->codec_tag = 0;
  if (params->codec_type == AVMEDIA_TYPE_VIDEO) st->sample_aspect_ratio = params->sample_aspect_ratio;
  return st->index;
}

int OutputFile::add_copy_stream(const AVStream* from, AVRational time_base) {
  AVStream* st = new_stream(time_base);
  const AVCodecParameters* par = from->codecpar;
  av::check(avcodec_parameters_copy(st->codecpar, par), path_.string() + ": copying stream parameters");
  // A tag from another container (e.g. MOV's 'apch' in Matroska) is only kept when this
  // container maps it back to the same codec; otherwise the muxer picks its own.
  const uint32_t tag = par->codec_tag;
  bool keep = false;
  if (tag != 0 && ctx_->oformat->codec_tag) {
    unsigned int probe = 0;
    keep = av_codec_get_id(ctx_->oformat->codec_tag, tag) == par->codec_id ||
           !av_codec_get_tag2(ctx_->oformat->codec_tag, par->codec_id, &probe);
  }
  if (!keep) st->codecpar->codec_tag = 0;
  for (const char* key : {"language", "title"}) {
    const AVDictionaryEntry* e = av_dict_get(from->metadata, key, nullptr, 0);
    if (e && e->value && *e->value) av_dict_set(&st->metadata, key, e->value, 0);
  }
  return st->index;
}

AVStream* OutputFile::stream(int index) {
  if (index < 0 || index >= int(ctx_->nb_streams))
    throw MediaError(path_.string() + ": no stream " + std::to_string(index));
  return ctx_->streams[index];
}

void OutputFile::set_metadata(const std::string& key, const std::string& value) {
  av::check(av_dict_set(&ctx_->metadata, key.c_str(), value.c_str(), 0),
            path_.string() + ": setting metadata " + key);
}

void OutputFile::set_stream_metadata(int index, const std::string& key, const std::string& value) {
  if (value.empty()) return;
  av::check(av_dict_set(&stream(index)->metadata, key.c_str(), value.c_str(), 0),
            path_.string() + ": setting stream metadata " + key);
}

void OutputFile::set_disposition(int index, int disposition) { stream(index)->disposition = disposition; }

void OutputFile::set_frame_rate(int index, AVRational rate) {
  stream(index)->avg_frame_rate = rate;
  stream(index)->r_frame_rate = rate;
}

void OutputFile::add_chapters(const std::vector<OutputChapter>& chapters) {
  if (header_written_) throw MediaError(path_.string() + ": chapters added after the header");
  for (size_t i = 0; i < chapters.size(); ++i) {
    auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!ch) throw std::bad_alloc();
    ch->id = static_cast<int64_t>(ctx_->nb_chapters + 1);
    ch->time_base = {1, 1000};
    ch->start = chapters[i].start_ms;
    ch->end = std::max(chapters[i].end_ms, chapters[i].start_ms);
    if (!chapters[i].title.empty()) av_dict_set(&ch->metadata, "title", chapters[i].title.c_str(), 0);
    // avformat_free_context() frees the array and each chapter with its metadata.
    const int rc = av_dynarray_add_nofree(&ctx_->chapters, reinterpret_cast<int*>(&ctx_->nb_chapters), ch);
    if (rc < 0) {
      av_dict_free(&ch->metadata);
      av_free(ch);
      throw std::bad_alloc();
    }
  }
}

void OutputFile::write_header(const std::vector<std::pair<std::string, std::string>>& options) {
  if (header_written_) return;
  const std::string label = path_.string();
  if (ctx_->nb_streams == 0) throw MediaError(label + ": no streams to write");
  if (!(ctx_->oformat->flags & AVFMT_NOFILE))
    av::check(avio_open(&ctx_->pb, ctx_->url, AVIO_FLAG_WRITE), "cannot create " + label);
  AVDictionary* raw = nullptr;
  for (const auto& [k, v] : options) av_dict_set(&raw, k.c_str(), v.c_str(), 0);
  av::DictPtr dict(raw);
  AVDictionary* d = dict.release();
  const int rc = avformat_write_header(ctx_.get(), &d);
  dict.reset(d);
  av::check(rc, label + ": cannot write the header");
  if (dict && av_dict_count(dict.get()) > 0) {
    const AVDictionaryEntry* e = av_dict_get(dict.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX);
    throw MediaError(label + ": unknown muxer option " + std::string(e->key));
  }
  header_written_ = true;
}

void OutputFile::write(int index, AVPacket* packet, const std::string& what) {
  if (!header_written_) write_header();
  if (finished_) throw MediaError(path_.string() + ": packet written after the trailer");
  AVStream* st = stream(index);
  packet->stream_index = index;
  av_packet_rescale_ts(packet, input_time_bases_[size_t(index)], st->time_base);
  packet->pos = -1;
  const int rc = av_interleaved_write_frame(ctx_.get(), packet);
  if (rc < 0)
    throw MediaError(path_.string() + ": cannot write " +
                     (what.empty() ? "packet " + std::to_string(packets_[size_t(index)]) + " of stream " +
                                         std::to_string(index)
                                   : what) +
                     ": " + av::error_string(rc));
  ++packets_[size_t(index)];
}

void OutputFile::finish() {
  if (finished_) return;
  const std::string label = path_.string();
  if (!header_written_) write_header();
  av::check(av_write_trailer(ctx_.get()), label + ": cannot finish the file");
  if (ctx_->pb && !(ctx_->oformat->flags & AVFMT_NOFILE)) {
    avio_flush(ctx_->pb);
    const int err = ctx_->pb->error;
    int rc = avio_closep(&ctx_->pb);
    if (err < 0) rc = err;
    av::check(rc, label + ": write error");
  }
  finished_ = true;
  if (atomic_) atomic_->commit();
}

int64_t OutputFile::packets_written(int index) const {
  if (index < 0 || index >= int(packets_.size())) return 0;
  return packets_[size_t(index)];
}

}  // namespace reelscale::media
