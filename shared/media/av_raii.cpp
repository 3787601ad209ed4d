#include "shared/media/av_raii.hpp"

#include <sys/stat.h>

#include <new>

#include "shared/disc/locator.hpp"
#include "shared/media/disc_input.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::av {

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

CodecContextPtr make_codec_context(const AVCodec* codec) {
  CodecContextPtr c(avcodec_alloc_context3(codec));
  if (!c) throw std::bad_alloc();
  return c;
}

std::string error_string(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(errnum, buf, sizeof buf);
  return buf;
}

int check(int rc, const std::string& what) {
  if (rc < 0) throw MediaError(what + ": " + error_string(rc));
  return rc;
}

InputFormatPtr open_input(const std::string& path) {
  if (disc::is_disc_locator(path)) return media::open_disc_input(path);
  if (const auto l = disc::disc_locator(path)) return media::open_disc_input(disc::format_locator(*l));
  // A FIFO blocks the open until a writer comes (our signal handlers restart it, so SIGTERM
  // went unheard), and every stage reads the film again: refused before it is opened.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
    throw MediaError(path + " is a FIFO or socket: reelscale reads the film more than once; give a file");
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) throw MediaError("cannot open " + path + ": " + error_string(rc));
  InputFormatPtr ctx(raw);
  rc = avformat_find_stream_info(ctx.get(), nullptr);
  if (rc < 0) throw MediaError("cannot read stream info of " + path + ": " + error_string(rc));
  return ctx;
}

void quiet_libav_logs(int level) { av_log_set_level(level); }

}  // namespace reelscale::av
