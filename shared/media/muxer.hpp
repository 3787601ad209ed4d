#pragma once
// A generic RAII muxer: one output file, any number of streams (from an encoder's context or
// copied from an input stream's parameters), packets written interleaved with their timestamps
// rescaled from the caller's time base. Used for shard files, concatenation and the final mux.
//
// The muxer writes exactly the path it is given; for crash safety pass an
// AtomicOutput::temp_path() and name the container explicitly (the temp name has no useful
// extension).
#include <filesystem>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

class Muxer {
 public:
  // `format`: a libavformat muxer name ("mov", "matroska"); empty: guessed from `path`.
  explicit Muxer(const std::filesystem::path& path, const std::string& format = "");
  ~Muxer();
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;

  // True when the container wants codec configuration in extradata (set
  // EncoderOptions::global_header accordingly before opening the encoder).
  bool wants_global_header() const;

  // Adds a stream described by an opened encoder. `time_base` is the time base the caller's
  // packet timestamps are in (usually the encoder's). Returns the stream index.
  int add_stream(const AVCodecContext* encoder, AVRational time_base);
  // Adds a stream copying codec parameters (stream copy). Returns the stream index.
  int add_stream(const AVCodecParameters* params, AVRational time_base);

  AVStream* stream(int index);
  AVFormatContext* context() { return ctx_.get(); }

  // Container-level metadata (title...) and per-stream metadata (language...): before the header.
  void set_metadata(const std::string& key, const std::string& value);
  void set_stream_metadata(int index, const std::string& key, const std::string& value);

  // Opens the file and writes the header. `options`: muxer private options ("movflags"...).
  void write_header(const std::vector<std::pair<std::string, std::string>>& options = {});

  // Writes one packet of stream `index`; its timestamps are in the time base given to
  // add_stream and are rescaled here. The packet's data is taken (the packet is left blank).
  void write(int index, AVPacket* packet);

  // Flushes interleaving queues and writes the trailer. Must be called for a valid file; a
  // Muxer destroyed without finish() leaves an incomplete file (callers discard it).
  void finish();

  const std::filesystem::path& path() const { return path_; }
  int64_t packets_written(int index) const;

 private:
  std::filesystem::path path_;
  av::OutputFormatPtr ctx_;
  std::vector<AVRational> input_time_bases_;
  std::vector<int64_t> packets_;
  bool header_written_ = false;
  bool finished_ = false;
};

}  // namespace reelscale::media
