#pragma once
// RAII ownership of every libav* handle the project touches, and error helpers.
// Each alias is a unique_ptr with the matching libav free function, so no handle leaks on an
// exception path.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace reelscale::av {

// `source` is what a custom AVIOContext reads from (a disc title): freed after the context.
struct FormatInputDeleter {
  std::shared_ptr<void> source;
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
// Output contexts own their AVIOContext (closed here if the muxer opened one).
struct FormatOutputDeleter {
  void operator()(AVFormatContext* c) const {
    if (!c) return;
    if (c->oformat && !(c->oformat->flags & AVFMT_NOFILE) && c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
// The handles libav frees through their address (av_frame_free(&f) and the like): the pointer
// is nulled in a copy, which is all a unique_ptr deleter needs.
template <class T, void (*Free)(T**)>
struct FreeWith {
  void operator()(T* p) const { Free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SubtitleDeleter {
  void operator()(AVSubtitle* s) const {
    avsubtitle_free(s);
    delete s;
  }
};
using InputFormatPtr = std::unique_ptr<AVFormatContext, FormatInputDeleter>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, FormatOutputDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, FreeWith<AVCodecContext, avcodec_free_context>>;
using FramePtr = std::unique_ptr<AVFrame, FreeWith<AVFrame, av_frame_free>>;
using PacketPtr = std::unique_ptr<AVPacket, FreeWith<AVPacket, av_packet_free>>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, FreeWith<SwrContext, swr_free>>;
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, FreeWith<AVFilterGraph, avfilter_graph_free>>;
using FilterInOutPtr = std::unique_ptr<AVFilterInOut, FreeWith<AVFilterInOut, avfilter_inout_free>>;
using SubtitlePtr = std::unique_ptr<AVSubtitle, SubtitleDeleter>;
using DictPtr = std::unique_ptr<AVDictionary, FreeWith<AVDictionary, av_dict_free>>;

// Allocators that throw std::bad_alloc instead of returning null.
FramePtr make_frame();
PacketPtr make_packet();
CodecContextPtr make_codec_context(const AVCodec* codec);

// av_strerror as a std::string.
std::string error_string(int errnum);

// Throws MediaError("<what>: <libav message>") when rc < 0; returns rc otherwise.
int check(int rc, const std::string& what);

// Opens a file for demuxing and reads its stream info; MediaError names the file on failure.
// A DVD ("dvd:..." locators, and disc paths: a VIDEO_TS folder or its parent, an .iso/.img, a
// VOB beside its IFOs) opens as one title's cells in play order, with the IFO's languages,
// forced flags, palette and chapters on the streams (shared/media/disc_input.hpp).
InputFormatPtr open_input(const std::string& path);

// Silences libav's own logging below the given level (AV_LOG_ERROR by default), so our
// messages are the ones users read.
void quiet_libav_logs(int level = AV_LOG_ERROR);

}  // namespace reelscale::av
