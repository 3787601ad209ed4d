#pragma once
// Packet-copy plumbing shared by the assembly stages (concat, retime, mux): choosing the
// container from the file name, adding a stream that copies another's parameters, and opening
// and finishing an output so that every failure names the file.
#include <filesystem>
#include <string>

#include "shared/media/av_raii.hpp"

namespace reelscale::assemble {

// libavformat muxer name for an output path: .mkv/.mka/.mks -> matroska, .mov -> mov,
// .mp4 -> mp4. Throws MediaError naming the path for anything else.
std::string muxer_for(const std::filesystem::path& path);

// Allocates an output context for `muxer` (see muxer_for); the file itself is opened by
// open_and_write_header(). `label` names the output in error messages.
av::OutputFormatPtr make_output(const std::string& muxer, const std::string& label);

// Adds a stream copying `par` (codec tag kept only when the container knows it for that codec,
// as the ffmpeg CLI does) and returns it.
AVStream* add_copy_stream(AVFormatContext* out, const AVCodecParameters* par,
                          const std::string& label);

// Copies the language and title tags (and nothing else) between stream dictionaries.
void copy_stream_tags(const AVStream* from, AVStream* to);

// Opens `file` for writing (unless the muxer needs no file) and writes the header.
// `opts` may be null. Throws MediaError naming `label`.
void open_and_write_header(AVFormatContext* out, const std::filesystem::path& file,
                           const std::string& label, AVDictionary** opts = nullptr);

// Writes the trailer and closes the file, so that a full disk shows up here and not later.
void finish_output(AVFormatContext* out, const std::string& label);

// A short human description of a stream's parameters, for mismatch messages.
std::string describe(const AVCodecParameters* par);

// The first stream of the given media type, or -1.
int first_stream_of(const AVFormatContext* in, AVMediaType type);

}  // namespace reelscale::assemble
