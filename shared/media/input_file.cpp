#include "shared/media/input_file.hpp"

#include "shared/util/errors.hpp"

namespace reelscale::media {

InputFile::InputFile(const std::filesystem::path& path)
    : label_(path.string()), ctx_(av::open_input(path.string())), selected_(ctx_->nb_streams, true) {}

AVStream* InputFile::stream(int index) const {
  if (index < 0 || index >= stream_count())
    throw MediaError(label_ + ": no stream #" + std::to_string(index) + " (the file has " +
                     std::to_string(stream_count()) + " streams)");
  return ctx_->streams[index];
}

int InputFile::first_stream(AVMediaType type) const {
  for (int i = 0; i < stream_count(); ++i)
    if (ctx_->streams[i]->codecpar->codec_type == type) return i;
  return -1;
}

int InputFile::require_stream(int index, AVMediaType type) const {
  const char* kind = av_get_media_type_string(type);
  if (index < 0) {
    const int s = first_stream(type);
    if (s < 0) throw MediaError(label_ + " has no " + kind + " stream");
    return s;
  }
  const AVMediaType got = stream(index)->codecpar->codec_type;
  if (got != type) {
    const char* got_kind = av_get_media_type_string(got);
    throw MediaError(label_ + ": stream #" + std::to_string(index) + " is " + (got_kind ? got_kind : "unknown") +
                     ", not " + kind);
  }
  return index;
}

std::string InputFile::stream_tag(int index, const char* key) const {
  const AVDictionaryEntry* e = av_dict_get(stream(index)->metadata, key, nullptr, 0);
  return e && e->value ? e->value : "";
}

void InputFile::select(const std::vector<int>& streams) {
  selected_.assign(ctx_->nb_streams, false);
  for (int s : streams) {
    stream(s);  // range check
    selected_[size_t(s)] = true;
  }
  for (int i = 0; i < stream_count(); ++i) ctx_->streams[i]->discard = selected_[size_t(i)] ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

bool InputFile::read(AVPacket* packet) {
  for (;;) {
    av_packet_unref(packet);
    const int rc = av_read_frame(ctx_.get(), packet);
    if (rc == AVERROR_EOF) return false;
    if (rc < 0) throw MediaError(label_ + ": read error: " + av::error_string(rc));
    const int s = packet->stream_index;
    if (s >= 0 && s < static_cast<int>(selected_.size()) && selected_[size_t(s)]) return true;
  }
}

bool InputFile::seek(int stream, int64_t timestamp) {
  return av_seek_frame(ctx_.get(), stream, timestamp, AVSEEK_FLAG_BACKWARD) >= 0;
}

StreamDecoder::StreamDecoder(InputFile& input, int stream)
    : input_(input), stream_(stream), packet_(av::make_packet()) {
  const AVStream* st = input.stream(stream);
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  const char* kind = av_get_media_type_string(st->codecpar->codec_type);
  const std::string where = input.label() + ": stream #" + std::to_string(stream);
  if (!codec)
    throw MediaError(where + ": unsupported " + (kind ? kind : "") + " codec " + avcodec_get_name(st->codecpar->codec_id));
  ctx_ = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(ctx_.get(), st->codecpar), where + ": decoder parameters");
  ctx_->pkt_timebase = st->time_base;
  av::check(avcodec_open2(ctx_.get(), codec, nullptr), where + ": opening the " + codec->name + " decoder");
}

void StreamDecoder::fail(int rc) const {
  const char* kind = av_get_media_type_string(ctx_->codec_type);
  throw MediaError(input_.label() + ": corrupt " + (kind ? kind : "data") + " in stream #" + std::to_string(stream_) +
                   ": " + av::error_string(rc));
}

bool StreamDecoder::next(AVFrame* frame) {
  for (;;) {
    av_frame_unref(frame);
    const int rc = avcodec_receive_frame(ctx_.get(), frame);
    if (rc == 0) return true;
    if (rc == AVERROR_EOF) return false;
    if (rc != AVERROR(EAGAIN)) fail(rc);
    if (draining_) return false;
    bool got = false;
    while ((got = input_.read(packet_.get())) && packet_->stream_index != stream_) {
    }
    if (!got) {
      draining_ = true;
      avcodec_send_packet(ctx_.get(), nullptr);
      continue;
    }
    const int src = avcodec_send_packet(ctx_.get(), packet_.get());
    av_packet_unref(packet_.get());
    if (src < 0 && src != AVERROR(EAGAIN)) fail(src);
  }
}

void StreamDecoder::flush() {
  avcodec_flush_buffers(ctx_.get());
  draining_ = false;
}

}  // namespace reelscale::media
