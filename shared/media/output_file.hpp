#pragma once
// The one door for writing a media file: streams copied from an input, described by parameters
// or fed by an encoder; packets written interleaved with their timestamps rescaled from the
// time base the caller gave for the stream; container and stream tags, dispositions, chapters;
// and a finish that makes the file appear whole or not at all (temp name, fsync, rename).
// Used for shard files, concatenation, retime, the final mux and the delivery encode.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale {
class AtomicOutput;
}

namespace reelscale::media {

// libavformat muxer name for an output path: .mkv/.mka/.mks -> matroska, .mov -> mov,
// .mp4 -> mp4. Throws MediaError naming the path for anything else.
std::string muxer_for(const std::filesystem::path& path);

// A short human description of a stream's parameters, for mismatch messages.
std::string describe(const AVCodecParameters* par);

struct OutputOptions {
  std::string format;  // libavformat muxer name ("mov", "matroska"); empty: muxer_for(path)
  // Written under a temporary name and renamed over `path` by finish(); an OutputFile
  // destroyed unfinished removes it. false: `path` itself is written (a caller that owns an
  // AtomicOutput passes its temp_path()).
  bool atomic = true;
};

struct OutputChapter {
  int64_t start_ms = 0, end_ms = 0;
  std::string title;
};

class OutputFile {
 public:
  explicit OutputFile(const std::filesystem::path& path, const OutputOptions& options = {});
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // True when the container wants codec configuration in extradata (set the encoder's
  // global-header flag accordingly before opening it).
  bool wants_global_header() const;
  const std::string& format() const;

  // Each add_* returns the stream index. `time_base` is the time base the caller's packet
  // timestamps will be in; it is also the stream's requested time base (the muxer may pick
  // another at the header: write() rescales).
  // A stream described by an opened encoder (frame rate and aspect ratio for video).
  int add_stream(const AVCodecContext* encoder, AVRational time_base);
  // A stream described by parameters; the muxer picks the codec tag.
  int add_stream(const AVCodecParameters* params, AVRational time_base);
  // A stream copied from `from` (packet copy): its parameters, its language and title tags, and
  // its codec tag where this container maps it back to the same codec (as the ffmpeg CLI does).
  int add_copy_stream(const AVStream* from, AVRational time_base);

  AVStream* stream(int index);
  AVFormatContext* context() { return ctx_.get(); }
  const AVFormatContext* context() const { return ctx_.get(); }

  // Before the header: container tags (title), stream tags (language; an empty value leaves the
  // tag as it is), dispositions and chapters.
  void set_metadata(const std::string& key, const std::string& value);
  void set_stream_metadata(int index, const std::string& key, const std::string& value);
  void set_disposition(int index, int disposition);
  void set_frame_rate(int index, AVRational rate);
  void add_chapters(const std::vector<OutputChapter>& chapters);

  // Opens the file and writes the header. `options`: muxer private options ("movflags"...);
  // an unknown one is an error.
  void write_header(const std::vector<std::pair<std::string, std::string>>& options = {});

  // Writes one packet of stream `index`; its timestamps are in the time base given to add_*
  // and are rescaled here. The packet's data is taken (the packet is left blank). `what`
  // names the packet in the error message ("frame 12 (from shard s0003)").
  void write(int index, AVPacket* packet, const std::string& what = "");

  // Flushes, writes the trailer and closes the file, so a full disk shows up here; with
  // OutputOptions::atomic, fsyncs and renames it into place.
  void finish();

  const std::filesystem::path& path() const { return path_; }
  int64_t packets_written(int index) const;

 private:
  std::filesystem::path path_;  // the final name: error messages name it
  std::unique_ptr<AtomicOutput> atomic_;
  av::OutputFormatPtr ctx_;
  std::string format_;
  std::vector<AVRational> input_time_bases_;
  std::vector<int64_t> packets_;
  bool header_written_ = false;
  bool finished_ = false;

  AVStream* new_stream(AVRational time_base);
};

}  // namespace reelscale::media
