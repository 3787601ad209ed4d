#pragma once
// The one door for reading a media file (opened by av::open_input, so a DVD opens wherever a
// file does): its streams, the packets of the streams chosen, seeks, and the decoded frames of
// one stream (StreamDecoder). Every error names the file and the stream. Frame-exact reading of
// a film's video by frame number is VideoReader's job (video_reader.hpp); this is for stages
// that walk a stream in file order (concat, retime, mux, subtitles) or jump by timestamp.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& path);

  const std::string& label() const { return label_; }
  AVFormatContext* context() { return ctx_.get(); }
  const AVFormatContext* context() const { return ctx_.get(); }
  int stream_count() const { return static_cast<int>(ctx_->nb_streams); }
  // MediaError "<file>: no stream #N (the file has M streams)" when out of range.
  AVStream* stream(int index) const;
  // The first stream of the given type, or -1.
  int first_stream(AVMediaType type) const;
  // `index` checked to be a stream of `type` ("<file>: stream #N is video, not audio"); index
  // -1: the first such stream ("<file> has no audio stream").
  int require_stream(int index, AVMediaType type) const;
  // A stream's tag ("language", "title"), empty when absent.
  std::string stream_tag(int index, const char* key) const;
  // The container's start and duration (AV_NOPTS_VALUE when unknown), in AV_TIME_BASE units.
  int64_t start_time() const { return ctx_->start_time; }
  int64_t duration() const { return ctx_->duration; }

  // Only these streams are demuxed from here on (the others are discarded, and read() skips
  // them). Default: every stream.
  void select(const std::vector<int>& streams);
  void select_only(int stream) { select({stream}); }

  // The next packet of a selected stream into `packet` (unreferenced first); false at the end
  // of the file. MediaError "<file>: read error: ..." on a damaged file.
  bool read(AVPacket* packet);
  // Seeks so that the next packets of `stream` (-1: any, timestamp in AV_TIME_BASE) start at
  // or before `timestamp`; false when the demuxer cannot seek there.
  bool seek(int stream, int64_t timestamp);

 private:
  std::string label_;
  av::InputFormatPtr ctx_;
  std::vector<bool> selected_;
};

// Decodes one stream of an InputFile (audio or video): frames come out in decode order with
// their best-effort timestamps in the stream's time base.
class StreamDecoder {
 public:
  // Opens the decoder; MediaError "<file>: stream #N: unsupported <type> codec X" when there is
  // none. Selects nothing: the caller chooses what the InputFile reads.
  StreamDecoder(InputFile& input, int stream);

  AVCodecContext* context() { return ctx_.get(); }
  const AVCodecContext* context() const { return ctx_.get(); }
  int stream() const { return stream_; }

  // The next decoded frame, reading packets of the stream as needed and draining the decoder at
  // the end of the file; false when everything has come out. A damaged packet is a MediaError
  // "<file>: corrupt <type> in stream #N: ...".
  bool next(AVFrame* frame);
  // After InputFile::seek: drops what the decoder holds.
  void flush();

 private:
  void fail(int rc) const;
  InputFile& input_;
  int stream_;
  av::CodecContextPtr ctx_;
  av::PacketPtr packet_;
  bool draining_ = false;
};

}  // namespace reelscale::media
