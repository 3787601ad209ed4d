#include "shared/media/muxer.hpp"

#include "shared/util/errors.hpp"

namespace reelscale::media {

Muxer::Muxer(const std::filesystem::path& path, const std::string& format) : path_(path) {
  AVFormatContext* raw = nullptr;
  const int rc = avformat_alloc_output_context2(&raw, nullptr,
                                                format.empty() ? nullptr : format.c_str(),
                                                path.c_str());
  if (rc < 0 || !raw)
    throw MediaError("cannot create a " + (format.empty() ? std::string("muxer") : format) +
                     " muxer for " + path.string() + ": " + av::error_string(rc));
  ctx_.reset(raw);
  // Reproducible files: no library version strings or random UIDs in the container.
  ctx_->flags |= AVFMT_FLAG_BITEXACT;
}

Muxer::~Muxer() = default;

bool Muxer::wants_global_header() const { return ctx_->oformat->flags & AVFMT_GLOBALHEADER; }

int Muxer::add_stream(const AVCodecContext* encoder, AVRational time_base) {
  if (header_written_) throw MediaError(path_.string() + ": stream added after the header");
  AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
  if (!st) throw std::bad_alloc();
  av::check(avcodec_parameters_from_context(st->codecpar, encoder),
            path_.string() + ": copying encoder parameters");
  st->time_base = time_base;
  if (encoder->codec_type == AVMEDIA_TYPE_VIDEO) {
    st->avg_frame_rate = encoder->framerate;
    st->r_frame_rate = encoder->framerate;
    st->sample_aspect_ratio = encoder->sample_aspect_ratio;
  }
  input_time_bases_.push_back(time_base);
  packets_.push_back(0);
  return st->index;
}

int Muxer::add_stream(const AVCodecParameters* params, AVRational time_base) {
  if (header_written_) throw MediaError(path_.string() + ": stream added after the header");
  AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
  if (!st) throw std::bad_alloc();
  av::check(avcodec_parameters_copy(st->codecpar, params), path_.string() + ": copying parameters");
  // The codec tag of the source container may be invalid in this one; let the muxer pick.
  st->codecpar->codec_tag = 0;
  st->time_base = time_base;
  if (params->codec_type == AVMEDIA_TYPE_VIDEO) st->sample_aspect_ratio = params->sample_aspect_ratio;
  input_time_bases_.push_back(time_base);
  packets_.push_back(0);
  return st->index;
}

AVStream* Muxer::stream(int index) {
  if (index < 0 || index >= int(ctx_->nb_streams))
    throw MediaError(path_.string() + ": no stream " + std::to_string(index));
  return ctx_->streams[index];
}

void Muxer::set_metadata(const std::string& key, const std::string& value) {
  av::check(av_dict_set(&ctx_->metadata, key.c_str(), value.c_str(), 0),
            path_.string() + ": setting metadata " + key);
}

void Muxer::set_stream_metadata(int index, const std::string& key, const std::string& value) {
  av::check(av_dict_set(&stream(index)->metadata, key.c_str(), value.c_str(), 0),
            path_.string() + ": setting stream metadata " + key);
}

void Muxer::write_header(const std::vector<std::pair<std::string, std::string>>& options) {
  if (header_written_) return;
  if (ctx_->nb_streams == 0) throw MediaError(path_.string() + ": no streams to write");
  if (!(ctx_->oformat->flags & AVFMT_NOFILE))
    av::check(avio_open(&ctx_->pb, path_.c_str(), AVIO_FLAG_WRITE),
              "cannot open " + path_.string() + " for writing");
  AVDictionary* raw = nullptr;
  for (const auto& [k, v] : options) av_dict_set(&raw, k.c_str(), v.c_str(), 0);
  std::unique_ptr<AVDictionary, av::DictDeleter> dict(raw);
  AVDictionary* d = dict.release();
  const int rc = avformat_write_header(ctx_.get(), &d);
  dict.reset(d);
  av::check(rc, "cannot write the header of " + path_.string());
  if (dict && av_dict_count(dict.get()) > 0) {
    const AVDictionaryEntry* e = av_dict_get(dict.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX);
    throw MediaError(path_.string() + ": unknown muxer option " + std::string(e->key));
  }
  header_written_ = true;
}

void Muxer::write(int index, AVPacket* packet) {
  if (!header_written_) write_header();
  if (finished_) throw MediaError(path_.string() + ": packet written after the trailer");
  AVStream* st = stream(index);
  packet->stream_index = index;
  av_packet_rescale_ts(packet, input_time_bases_[size_t(index)], st->time_base);
  packet->pos = -1;
  av::check(av_interleaved_write_frame(ctx_.get(), packet),
            "cannot write packet " + std::to_string(packets_[size_t(index)]) + " of stream " +
                std::to_string(index) + " to " + path_.string());
  ++packets_[size_t(index)];
}

void Muxer::finish() {
  if (finished_) return;
  if (!header_written_) write_header();
  av::check(av_write_trailer(ctx_.get()), "cannot finish " + path_.string());
  if (ctx_->pb) av::check(avio_closep(&ctx_->pb), "cannot close " + path_.string());
  finished_ = true;
}

int64_t Muxer::packets_written(int index) const {
  if (index < 0 || index >= int(packets_.size())) return 0;
  return packets_[size_t(index)];
}

}  // namespace reelscale::media
