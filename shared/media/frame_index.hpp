#pragma once
// The exact frame index of one video stream, built by demuxing only (no decoding): every
// packet's timestamps, keyframe flag and byte position in decode order, and the presentation
// order obtained by sorting on presentation timestamps. VideoReader numbers frames with it.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

struct PacketEntry {
  int64_t pts = AV_NOPTS_VALUE;  // as demuxed (AV_NOPTS_VALUE when absent)
  int64_t dts = AV_NOPTS_VALUE;
  int64_t pos = -1;              // byte position, -1 when unknown
  int size = 0;                  // bytes: with pos, recognises the packet after a seek
  int64_t ts = AV_NOPTS_VALUE;   // presentation timestamp used for ordering (pts, else dts,
                                 // else computed from the frame rate)
  bool keyframe = false;
  bool ts_computed = false;      // ts did not come from the container
  int64_t frame = -1;            // presentation index; -1 for packets that yield no frame of
                                 // ours (before the first keyframe, or leading pictures of it)
};

struct FrameIndex {
  std::string path;
  int stream_index = -1;
  AVRational time_base{0, 1};
  AVRational frame_rate{0, 1};       // constant rate (for VFR sources: the average)
  double frame_duration_ticks = 0;   // nominal frame duration in time_base units
  AVRational typical_rate{0, 1};     // from the median frame duration (the rate a VFR source
                                     // is converted to)
  bool vfr = false;
  // Soft telecine (MPEG-2 repeat_first_field): the coded frames last 3 and 2 fields of
  // 30000/1001 in turn, 24000/1001 on average. The coded frames ARE the film's frames, so the
  // index is read as constant 24000/1001 (frame_rate), not as variable rate.
  bool soft_pulldown = false;
  std::string vfr_detail;            // where the timing is irregular (for the error message)
  std::vector<PacketEntry> packets;  // every video packet, decode order
  std::vector<int64_t> decode_of;    // presentation index -> decode index in `packets`
  std::vector<int64_t> keyframes;    // decode indices of usable keyframes, ascending
  bool any_ts_computed = false;
  int64_t start_packet = 0;          // decoding starts here (the first keyframe)
  // Decode indices (ascending) of packets holding the second field of a frame coded as two
  // field pictures in separate packets; the first field is the packet before. Their `frame`
  // is -1 (the decoder outputs the pair once, as the first field's frame), but whoever copies
  // a frame's packets must copy this one with it.
  std::vector<int64_t> second_fields;
  bool is_second_field(int64_t d) const {
    return std::binary_search(second_fields.begin(), second_fields.end(), d);
  }

  int64_t frame_count() const { return int64_t(decode_of.size()); }
  int64_t first_used_packet() const { return start_packet; }
  // Renumbers without the first `count` frames (pictures a decoder never outputs from the
  // start of the file, e.g. H.264 frames before a recovery point). Their packets still decode.
  void drop_leading_frames(int64_t count);
  // Renumbers without the last `count` frames (a damaged tail: a cut-off picture at the end
  // of a truncated program stream, and what depends on it).
  void drop_trailing_frames(int64_t count);
  // The timestamp of presentation index i.
  int64_t ts_of(int64_t i) const { return packets[size_t(decode_of[size_t(i)])].ts; }
  // Presentation index of a timestamp, -1 when no frame has it.
  int64_t frame_of_ts(int64_t ts) const;
  // Decode index of the keyframe to start decoding at for frame i: the last keyframe in
  // decode order that precedes the frame's packet and whose timestamp is <= the frame's
  // (an open GOP's leading pictures are shown before their keyframe and need the previous
  // GOP). `earlier` > 0 steps back that many more keyframes (a retry after a failed landing);
  // returns -1 when there is none.
  int64_t keyframe_for(int64_t i, int earlier = 0) const;
};

// Positions an opened input so that `p` holds the index's packet k. A container seek first:
// by byte position where `byte_seek` (aiming at the nearest packet at or before k that has a
// position, since MPEG-PS gives none to the second picture of a PES, and starting one such
// packet earlier so the parser is in sync by then), else backward by the packet's timestamp.
// Then packets are read with `next` (the next packet the index counts; false at the end) up to
// that anchor, recognised by position, else dts, else pts, and by its size, and counted on to
// k. False when the seek failed, landed after the anchor, or the packets do not match the
// index: the caller then reads from the start, which is exact by construction.
bool seek_to_packet(AVFormatContext* fmt, const FrameIndex& ix, int64_t k, bool byte_seek, AVPacket* p,
                    const std::function<bool(AVPacket*)>& next);

// Scans the stream's packets from the start of an opened input (which it consumes: reopen or
// seek before reading again). `stream_index` must be a video stream. Never throws for bad data
// past the first packets: a truncated or damaged file gives the index of what is readable.
FrameIndex build_frame_index(AVFormatContext* fmt, int stream_index, const std::string& path);

// Constant-rate view of a (variable frame rate) index: for each output frame j at
// t0 + j/rate, the source frame shown then (the last one whose timestamp rounds to slot j or
// earlier, as ffmpeg's fps filter does): frames repeat across long gaps and are dropped where
// they come faster than the rate. The last frame lasts one output frame.
std::vector<int64_t> constant_rate_map(const FrameIndex& index, AVRational rate);

// A scan reads the whole film; its result can be kept beside the work so that every worker
// opening the film does not read it again. The cache records the media file's size and
// modification time and is ignored (nullopt) when they differ, or when it is unreadable.
// save is atomic (temporary name, fsync, rename).
void save_frame_index(const FrameIndex& index, const std::filesystem::path& cache);
std::optional<FrameIndex> load_frame_index(const std::filesystem::path& cache,
                                           const std::string& media_path);

// Where processes sharing `dir` keep the frame index of `media_path` (as save_frame_index
// writes it): `dir/.frame-index/<name>-<hash of the path>.index`. The coordinator and the
// workers of a shared-storage run pass storage.dir, so the one scan the coordinator makes is
// the only one: a 2-hour VOB takes ~10-17 s to scan, which every shard paid before.
std::filesystem::path frame_index_cache_path(const std::filesystem::path& dir, const std::string& media_path);

// Chooses the frame rate from the sorted timestamps and the stream's declared rates, and
// flags variable frame rate. Exposed for tests.
void analyse_timing(FrameIndex& index, AVRational declared_rate);

}  // namespace reelscale::media
