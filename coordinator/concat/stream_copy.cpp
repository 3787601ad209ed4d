#include "coordinator/concat/stream_copy.hpp"

#include <algorithm>
#include <cctype>
#include <new>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "shared/util/errors.hpp"

namespace reelscale::assemble {
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

av::OutputFormatPtr make_output(const std::string& muxer, const std::string& label) {
  AVFormatContext* raw = nullptr;
  const int rc = avformat_alloc_output_context2(&raw, nullptr, muxer.c_str(), nullptr);
  if (rc < 0 || !raw)
    throw MediaError(label + ": cannot create a " + muxer + " muxer: " + av::error_string(rc));
  return av::OutputFormatPtr(raw);
}

AVStream* add_copy_stream(AVFormatContext* out, const AVCodecParameters* par, const std::string& label) {
  AVStream* st = avformat_new_stream(out, nullptr);
  if (!st) throw MediaError(label + ": cannot add a stream");
  av::check(avcodec_parameters_copy(st->codecpar, par), label + ": copying stream parameters");
  // A tag from another container (e.g. MOV's 'apch' in Matroska) is only kept when the target
  // container maps it back to the same codec; otherwise the muxer picks its own.
  const uint32_t tag = par->codec_tag;
  bool keep = false;
  if (tag != 0 && out->oformat->codec_tag) {
    unsigned int probe = 0;
    keep = av_codec_get_id(out->oformat->codec_tag, tag) == par->codec_id ||
           !av_codec_get_tag2(out->oformat->codec_tag, par->codec_id, &probe);
  }
  if (!keep) st->codecpar->codec_tag = 0;
  return st;
}

void copy_stream_tags(const AVStream* from, AVStream* to) {
  for (const char* key : {"language", "title"}) {
    const AVDictionaryEntry* e = av_dict_get(from->metadata, key, nullptr, 0);
    if (e && e->value && *e->value) av_dict_set(&to->metadata, key, e->value, 0);
  }
}

void open_and_write_header(AVFormatContext* out, const fs::path& file, const std::string& label,
                           AVDictionary** opts) {
  // The muxer reopens its file by url for MOV's faststart pass.
  av_freep(&out->url);
  out->url = av_strdup(file.c_str());
  if (!out->url) throw std::bad_alloc();
  if (!(out->oformat->flags & AVFMT_NOFILE)) {
    const int rc = avio_open(&out->pb, file.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) throw MediaError(label + ": cannot create " + file.string() + ": " + av::error_string(rc));
  }
  const int rc = avformat_write_header(out, opts);
  if (rc < 0) throw MediaError(label + ": cannot write the header: " + av::error_string(rc));
}

void finish_output(AVFormatContext* out, const std::string& label) {
  int rc = av_write_trailer(out);
  if (rc < 0) throw MediaError(label + ": cannot finish the file: " + av::error_string(rc));
  if (out->pb && !(out->oformat->flags & AVFMT_NOFILE)) {
    avio_flush(out->pb);
    const int err = out->pb->error;
    rc = avio_closep(&out->pb);
    if (err < 0) rc = err;
    if (rc < 0) throw MediaError(label + ": write error: " + av::error_string(rc));
  }
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

int first_stream_of(const AVFormatContext* in, AVMediaType type) {
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (in->streams[i]->codecpar->codec_type == type) return static_cast<int>(i);
  return -1;
}

}  // namespace reelscale::assemble
