#pragma once
// Synthetic test clips, written through libavcodec/libavformat (never by spawning ffmpeg), so
// every suite can make the media it needs in a temp dir. Content is deterministic per frame and
// carries the frame number in its pixels (16 bits as bright/dark blocks in a band at the top
// of the picture), so a test can tell which frame a decoder returned.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media::test_media {

struct ClipSpec {
  std::string codec = "mpeg2video";   // encoder: mpeg2video | libx264 | ffv1 | ...
  std::string container = "matroska"; // muxer: matroska | mp4 | mov | mpeg (MPEG-PS) | vob | mpegts
  int width = 160, height = 96;
  int frames = 48;
  int gop = 12;                       // keyframe interval
  int b_frames = 2;                   // consecutive B-frames (0 = none)
  bool open_gop = false;              // libx264: open GOP (mpeg2video's GOPs are open anyway)
  AVRational fps{25, 1};
  AVRational sar{1, 1};
  bool interlaced = false;            // flagged TFF interlaced; the fields show different instants
  bool flag_interlaced = true;        // with interlaced: false writes combed content unflagged
  int bar_rows = 0;                   // black letterbox bars: this many rows at top and bottom
  AVColorPrimaries primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic transfer = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace colorspace = AVCOL_SPC_UNSPECIFIED;
  AVColorRange range = AVCOL_RANGE_MPEG;
  // Variable frame rate: per-frame durations in milliseconds (the encoder then uses a 1/1000
  // time base); empty = constant `fps`. Needs an encoder that accepts any time base (libx264).
  std::vector<int> frame_durations_ms;
  int quality = 3;                    // mpeg2video qscale / libx264 crf*6 (lower = better)
  // Pixel format given to the encoder (frames are drawn in YUV420P and converted with
  // libswscale): e.g. yuv422p10le for prores_ks. NONE: YUV420P.
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  // write_field_coded_mpeg2: give program stream muxers one packet per field (libavformat's
  // muxer then stamps some PES with a second field's time) instead of one per field pair.
  bool field_packets = false;
  std::string language;               // optional language tag on the video stream
  bool with_audio = false;            // a stereo 48 kHz MP2 track tagged `audio_language`
  std::string audio_language = "eng";
  bool with_subtitle = false;         // a SubRip track with one event (matroska only)
  std::string subtitle_language = "fre";
  int chapters = 0;                   // chapters evenly spread over the clip
};

// Writes the clip and returns its path; throws MediaError naming the file on failure.
// frames = 0 writes a file with a video stream and no frames.
std::filesystem::path write_clip(const std::filesystem::path& path, const ClipSpec& spec);

// The default clip of `frames` frames in a VOB (MPEG-2 program stream, the DVD's container).
inline ClipSpec vob_spec(int frames) {
  ClipSpec spec;
  spec.container = "vob";
  spec.frames = frames;
  return spec;
}

// An H.264 stream coded as field pictures (PAFF: each field its own access unit, so two
// packets per frame in most containers), top field first, the fields half a frame apart
// (draw_frame with `interlaced`). No installed encoder codes field pictures, so the stream is
// written directly with I_PCM macroblocks. Uses width (multiple of 16), height (multiple of
// 32), frames, fps, gop (IDR interval) and container: "h264" (raw Annex B), "mpegts",
// "matroska"; other fields are ignored.
void write_field_coded_h264(const std::filesystem::path& path, const ClipSpec& spec);

// The same for MPEG-2: each field an I field picture of flat 8x8 blocks (DC coefficients
// only), one packet per field ("mpeg2video" raw, "matroska") or per field pair, as DVDs
// store them ("mpeg", "vob" program streams); 25 fps. Block (bx, by) of plane p (0 Y, 1 Cb, 2 Cr) of frame n's top or bottom
// field has the level field_clip_level(n, bottom, p, bx, by); the frame-number band of
// draw_frame is not drawn.
void write_field_coded_mpeg2(const std::filesystem::path& path, const ClipSpec& spec);
// An MPEG-2 elementary stream of progressive film frames made soft-telecined as DGPulldown
// does: the sequence says 29.97 interlaced, the pictures carry a 3:2 cadence of
// top_field_first / repeat_first_field flags.
std::string soft_telecine(std::string es);
int field_clip_level(int64_t n, bool bottom, int plane, int block_x, int block_y);

// Draws frame `n` of the clip into a YUV420P frame of the spec's size (allocates it when empty).
void draw_frame(AVFrame* frame, int64_t n, const ClipSpec& spec);

// The frame number carried by a decoded frame of a clip (any planar YUV or gray format, 8 to
// 16 bits, same geometry as written), or -1 when the band cannot be read.
int64_t read_frame_number(const AVFrame* frame, int bar_rows = 0);

// A content hash (FNV-1a 64) of a frame's visible pixels, independent of line padding.
uint64_t frame_hash(const AVFrame* frame);

// Feeds every packet of stream `stream` of `fmt` to the open decoder `dec` and drains it at the
// end, handing each decoded frame to `on_frame`.
void decode_packets(AVFormatContext* fmt, int stream, AVCodecContext* dec,
                    const std::function<void(const AVFrame*)>& on_frame);

// Decodes the best stream of `type` in `file` to the end, handing every frame to `on_frame` in
// the order the decoder gives them.
void decode_stream(const std::filesystem::path& file, AVMediaType type,
                   const std::function<void(const AVFrame*)>& on_frame);

}  // namespace reelscale::media::test_media
