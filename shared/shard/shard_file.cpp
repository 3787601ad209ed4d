#include "shared/shard/shard_file.hpp"

#include <nlohmann/json.hpp>

#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::shard {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kSidecarVersion = 1;

std::string rational_text(AVRational r) { return std::to_string(r.num) + "/" + std::to_string(r.den); }

AVRational parse_rational(const std::string& s, const std::string& what) {
  const auto slash = s.find('/');
  try {
    if (slash == std::string::npos) return AVRational{std::stoi(s), 1};
    return AVRational{std::stoi(s.substr(0, slash)), std::stoi(s.substr(slash + 1))};
  } catch (const std::exception&) {
    throw MediaError(what + ": '" + s + "' is not a rational number");
  }
}

struct PacketScan {
  int64_t packets = 0;
  std::string checksum;
};

// Reads every packet of the first video stream; `who` prefixes the errors.
PacketScan scan_packets(const fs::path& file, const std::string& who) {
  av::InputFormatPtr in;
  try {
    in = av::open_input(file.string());
  } catch (const MediaError& e) {
    throw MediaError(who + " is corrupt: " + e.what());
  }
  const int vs = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (vs < 0) throw MediaError(who + " is corrupt: it has no video stream");
  PacketChecksum sum;
  PacketScan scan;
  av::PacketPtr pkt = av::make_packet();
  for (;;) {
    const int rc = av_read_frame(in.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0)
      throw MediaError(who + " is corrupt: reading packet " + std::to_string(scan.packets) +
                       " failed: " + av::error_string(rc));
    if (pkt->stream_index == vs) {
      sum.add(*pkt);
      ++scan.packets;
    }
    av_packet_unref(pkt.get());
  }
  scan.checksum = sum.hex();
  return scan;
}

}  // namespace

std::string shard_extension(config::ShardCodec codec) {
  return codec == config::ShardCodec::ffv1 ? ".mkv" : ".mov";
}

fs::path shard_path(const fs::path& dir, const std::string& shard_id, config::ShardCodec codec) {
  return dir / (shard_id + shard_extension(codec));
}

fs::path sidecar_path(const fs::path& shard_file) { return fs::path(shard_file.string() + ".json"); }

void write_sidecar(const ShardInfo& info) {
  json j;
  j["format_version"] = kSidecarVersion;
  j["shard_id"] = info.shard_id;
  j["file"] = info.path.filename().string();
  j["file_size"] = info.file_size;
  j["frame_count"] = info.frame_count;
  j["first_source_frame"] = info.first_source_frame;
  j["last_source_frame"] = info.last_source_frame;
  j["codec"] = info.codec;
  j["width"] = info.width;
  j["height"] = info.height;
  j["pix_fmt"] = info.pix_fmt;
  j["frame_rate"] = rational_text(info.frame_rate);
  j["time_base"] = rational_text(av_inv_q(info.frame_rate));
  j["packets_checksum"] = info.packets_checksum;
  j["checksum_algorithm"] = "blake2b-256";
  j["encoder_settings"] = info.encoder_settings;
  write_file_atomic(sidecar_path(info.path), j.dump(2) + "\n");
}

ShardInfo read_sidecar(const fs::path& shard_file) {
  const fs::path side = sidecar_path(shard_file);
  if (!fs::exists(side))
    throw MediaError("shard " + shard_file.string() + ": its sidecar " + side.string() +
                     " is missing (the shard was never finished)");
  ShardInfo info;
  try {
    const json j = json::parse(read_file(side));
    info.path = shard_file;
    info.shard_id = j.at("shard_id").get<std::string>();
    info.frame_count = j.at("frame_count").get<int64_t>();
    info.first_source_frame = j.at("first_source_frame").get<int64_t>();
    info.last_source_frame = j.at("last_source_frame").get<int64_t>();
    info.codec = j.at("codec").get<std::string>();
    info.width = j.at("width").get<int>();
    info.height = j.at("height").get<int>();
    info.pix_fmt = j.at("pix_fmt").get<std::string>();
    info.frame_rate = parse_rational(j.at("frame_rate").get<std::string>(), side.string());
    info.packets_checksum = j.at("packets_checksum").get<std::string>();
    info.file_size = j.at("file_size").get<uintmax_t>();
    info.encoder_settings = j.at("encoder_settings").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    throw MediaError("shard " + shard_file.string() + ": sidecar " + side.string() +
                     " is corrupt: " + e.what());
  }
  return info;
}

void PacketChecksum::add(const AVPacket& packet) { sum_.update(packet.data, size_t(packet.size)); }

std::string packets_checksum(const fs::path& file) { return scan_packets(file, file.string()).checksum; }

ShardInfo verify_shard(const fs::path& shard_file) {
  const std::string name = "shard " + shard_file.stem().string() + " (" + shard_file.string() + ")";
  if (!fs::exists(shard_file)) throw MediaError(name + " is missing");
  ShardInfo info = read_sidecar(shard_file);
  const std::string who = "shard " + info.shard_id + " (" + shard_file.string() + ")";
  const uintmax_t size = fs::file_size(shard_file);
  if (size < info.file_size)
    throw MediaError(who + " is short (truncated): " + std::to_string(size) + " of " +
                     std::to_string(info.file_size) + " bytes");
  if (size > info.file_size)
    throw MediaError(who + " is corrupt: " + std::to_string(size) + " bytes, the sidecar says " +
                     std::to_string(info.file_size));
  const PacketScan scan = scan_packets(shard_file, who);
  if (scan.packets < info.frame_count)
    throw MediaError(who + " is short: " + std::to_string(scan.packets) + " of " +
                     std::to_string(info.frame_count) + " frames");
  if (scan.packets > info.frame_count)
    throw MediaError(who + " is corrupt: " + std::to_string(scan.packets) + " frames, the sidecar says " +
                     std::to_string(info.frame_count));
  if (scan.checksum != info.packets_checksum)
    throw MediaError(who + " is corrupt: its video packets do not match the sidecar's checksum");
  return info;
}

}  // namespace reelscale::shard
